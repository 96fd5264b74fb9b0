"""The world's exports over columnar batches: what the component runs.

Imported only inside a component (componentize-py generates `wit_world`
from the contract in `wit/`, its only copy). The row loop is the Rust
SDK's: rows are bracketed by the host's `start-rows` and `end-rows`, so the
per-row CPU budget means the same thing for a Python transform; a row run
alone on its own budget ends before its output is stored, so it is
measured the same way wherever it sits in its batch.
"""

from __future__ import annotations

import datetime

import wit_world
from componentize_py_types import Err
from wit_world.imports import host
from wit_world.imports.types import (
    Batch,
    Column,
    DataType,
    Field,
    RowError,
    TransformError_Failed,
    TransformError_InvalidInput,
    TransformInfo,
    Utf8Array,
    Values_Boolean,
    Values_Float32,
    Values_Float64,
    Values_Int32,
    Values_Int64,
    Values_TimestampMicros,
    Values_Utf8,
)

from . import EPOCH, spec

_DATA_TYPES = {
    "boolean": (DataType.BOOLEAN, Values_Boolean),
    "int32": (DataType.INT32, Values_Int32),
    "int64": (DataType.INT64, Values_Int64),
    "float32": (DataType.FLOAT32, Values_Float32),
    "float64": (DataType.FLOAT64, Values_Float64),
    "utf8": (DataType.UTF8, Values_Utf8),
    "timestamp-micros": (DataType.TIMESTAMP_MICROS, Values_TimestampMicros),
}

_ONE_MICROSECOND = datetime.timedelta(microseconds=1)


def _transform():
    found = spec()
    if found is None:
        raise RuntimeError("no @transform was declared: decorate the row function with @transform")
    return found


def _field(column) -> Field:
    return Field(column.name, _DATA_TYPES[column.data_type][0], column.nullable)


class _RowFailed(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _invalid(message: str) -> Err:
    return Err(TransformError_InvalidInput(message))


def _reader(column: Column, declared, rows: int):
    """A function of the row that reads this column's value (`None` for a
    null), after checking the column's shape once."""
    values = column.values
    expected = _DATA_TYPES[declared.data_type][1]
    if not isinstance(values, expected):
        raise _invalid(f"column `{declared.name}`: expected {declared.data_type} values")
    validity = column.validity
    if validity is not None and len(validity) != (rows + 7) // 8:
        raise _invalid(f"column `{declared.name}`: validity has {len(validity)} bytes for {rows} rows")
    data = values.value
    if declared.data_type == "utf8":
        offsets, text = data.offsets, data.data
        if len(offsets) != rows + 1:
            raise _invalid(f"column `{declared.name}`: {len(offsets) - 1} values for {rows} rows")

        def value(row):
            return text[offsets[row]:offsets[row + 1]].decode("utf-8")
    elif declared.data_type == "timestamp-micros":
        if len(data) != rows:
            raise _invalid(f"column `{declared.name}`: {len(data)} values for {rows} rows")

        def value(row):
            try:
                return EPOCH + datetime.timedelta(microseconds=data[row])
            except OverflowError:
                raise _RowFailed(
                    f"column `{declared.name}`: {data[row]} microseconds is outside the range of "
                    f"Python's datetime (years 1 to 9999)"
                ) from None
    else:
        if len(data) != rows:
            raise _invalid(f"column `{declared.name}`: {len(data)} values for {rows} rows")
        value = data.__getitem__
    if validity is None:
        return value

    def nullable(row):
        if validity[row >> 3] >> (row & 7) & 1:
            return value(row)
        return None

    return nullable


def _check(column, value):
    """`value` as the column stores it; raises `_RowFailed` for a value the
    column's type cannot hold exactly."""
    kind = column.data_type
    if kind == "float64" or kind == "float32":
        if type(value) is float:
            return value
        if type(value) is int and float(value) == value:
            return float(value)
        expected = "a float"
    elif kind == "int64" or kind == "int32":
        if type(value) is int:
            bound = 1 << (63 if kind == "int64" else 31)
            if -bound <= value < bound:
                return value
            raise _RowFailed(f"field `{column.name}`: {value} does not fit {kind}")
        expected = "an int"
    elif kind == "boolean":
        if type(value) is bool:
            return value
        expected = "a bool"
    elif kind == "utf8":
        if type(value) is str:
            return value
        expected = "a str"
    else:  # timestamp-micros
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                raise _RowFailed(
                    f"field `{column.name}`: the datetime {value.isoformat()} has no time zone; "
                    f"return one with tzinfo=timezone.utc"
                )
            return (value - EPOCH) // _ONE_MICROSECOND
        expected = "a datetime"
    raise _RowFailed(
        f"field `{column.name}` is {kind}, but the transform returned {type(value).__name__} "
        f"{value!r}; return {expected}"
    )


class _Builder:
    """One output column's values and validity."""

    def __init__(self, column, rows: int):
        self.column = column
        self.values = []
        self.validity = bytearray((rows + 7) // 8)
        self.nulls = 0
        self.placeholder = {"boolean": False, "utf8": "", "float32": 0.0, "float64": 0.0}.get(
            column.data_type, 0
        )

    def push(self, row: int, value) -> None:
        if value is None:
            if not self.column.nullable:
                raise _RowFailed(
                    f"field `{self.column.name}` is None, but it is not Optional in the dataclass"
                )
            self.nulls += 1
            self.values.append(self.placeholder)
        else:
            self.values.append(_check(self.column, value))
            self.validity[row >> 3] |= 1 << (row & 7)

    def finish(self) -> Column:
        kind = self.column.data_type
        if kind == "utf8":
            encoded = [v.encode("utf-8") for v in self.values]
            offsets = [0]
            for piece in encoded:
                offsets.append(offsets[-1] + len(piece))
            values = Values_Utf8(Utf8Array(offsets, b"".join(encoded)))
        else:
            values = _DATA_TYPES[kind][1](self.values)
        return Column(values, bytes(self.validity) if self.nulls else None)


def _failure(error: BaseException) -> str:
    """An exception as one line: its type, its message, and where it was
    raised in the transform's own code (found by walking the traceback,
    without reading source lines: a RecursionError has a thousand frames)."""
    message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    last, frame = None, error.__traceback__
    while frame is not None:
        if not frame.tb_frame.f_code.co_filename.endswith("_component.py"):
            last = frame
        frame = frame.tb_next
    if last is not None:
        code = last.tb_frame.f_code
        where = code.co_filename.rsplit("/", 1)[-1]
        message += f" (at {where}, line {last.tb_lineno}, in {code.co_name})"
    if isinstance(error, ImportError):
        message += (
            "; a component holds only the modules imported when it was built: import them at "
            "the top of the module"
        )
    return message


class WitWorld(wit_world.WitWorld):
    """The component's exports: `describe` and `transform`."""

    def describe(self) -> TransformInfo:
        found = _transform()
        return TransformInfo(
            found.name,
            found.version,
            found.description,
            [_field(c) for c in found.inputs],
            [_field(c) for c in found.outputs],
        )

    def transform(self, input: Batch) -> Batch:
        found = _transform()
        rows = input.num_rows
        if len(input.columns) != len(found.inputs):
            raise _invalid(f"expected {len(found.inputs)} input columns, got {len(input.columns)}")
        readers = [_reader(column, declared, rows) for column, declared in zip(input.columns, found.inputs)]
        builders = [_Builder(column, rows) for column in found.outputs]
        names = [column.name for column in found.outputs]
        function, features = found.function, found.features

        def compute(row):
            try:
                result = function(*[read(row) for read in readers])
            except _RowFailed as failed:
                raise Err(TransformError_Failed(RowError(row, failed.message))) from None
            except Exception as error:
                raise Err(TransformError_Failed(RowError(row, _failure(error)))) from None
            if type(result) is not features:
                raise Err(
                    TransformError_Failed(
                        RowError(
                            row,
                            f"the transform returned {type(result).__name__} {result!r:.80}, "
                            f"not {features.__qualname__}",
                        )
                    )
                )
            return result

        def store(row, result):
            try:
                for builder, name in zip(builders, names):
                    builder.push(row, getattr(result, name))
            except _RowFailed as failed:
                raise Err(TransformError_Failed(RowError(row, failed.message))) from None

        row = 0
        while row < rows:
            chunk = host.start_rows(row)
            if chunk <= 1:
                # A row on its own budget ends before its output is stored.
                try:
                    result = compute(row)
                finally:
                    host.end_rows()
                store(row, result)
                row += 1
            else:
                end = min(rows, row + chunk)
                try:
                    while row < end:
                        store(row, compute(row))
                        row += 1
                finally:
                    host.end_rows()
        return Batch(rows, [builder.finish() for builder in builders])

