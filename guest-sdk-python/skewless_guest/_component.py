"""The world's exports over columnar batches: what the component runs.

Imported only inside a component (componentize-py generates `wit_world`
from the contract in `wit/`, its only copy). Columns arrive as byte buffers
in Arrow's layout. The row loop is the Rust SDK's: rows are bracketed by
the host's `start-rows` and `end-rows`, so the per-row CPU budget means the
same thing for a Python transform; a row run alone on its own budget ends
before its output is stored, so it is measured the same way wherever it
sits in its batch.

Within a run of rows the interpreter does as little as it can besides the
transform's own function: plain columns are turned into Python values a
run at a time by C code (`memoryview.tolist`, string slices), the function
is mapped over them, and each output column is taken from the results and
checked a run at a time (`attrgetter`, the set of the values' types),
falling back to a value at a time only for the types and values that need
it. A run's answer, and which failure a batch reports (the first in row
order), are what computing and storing one row at a time gives; the SDK's
tests run the same batches both ways.
"""

from __future__ import annotations

import datetime
import decimal
import types
from array import array
from itertools import accumulate
from operator import attrgetter

import wit_world
from componentize_py_types import Err
from wit_world.imports import host
from wit_world.imports import types as wit
from wit_world.imports.types import (
    Batch,
    Column,
    Field,
    RowError,
    TransformError_Failed,
    TransformError_InvalidInput,
    TransformInfo,
)

from . import EPOCH, EPOCH_DATE, spec

_ONE_MICROSECOND = datetime.timedelta(microseconds=1)

_SCALARS = {
    "boolean": wit.ScalarType_Boolean,
    "int32": wit.ScalarType_Int32,
    "int64": wit.ScalarType_Int64,
    "float32": wit.ScalarType_Float32,
    "float64": wit.ScalarType_Float64,
    "utf8": wit.ScalarType_Utf8,
    "timestamp-micros": wit.ScalarType_TimestampMicros,
    "date": wit.ScalarType_Date,
    "binary": wit.ScalarType_Binary,
}

# The memoryview / array format of each fixed-width scalar type.
_FORMATS = {"int32": "i", "int64": "q", "float32": "f", "float64": "d",
            "timestamp-micros": "q", "date": "i"}


def _scalar(name: str):
    if name.startswith("decimal("):
        precision, scale = name[len("decimal("):-1].split(",")
        return wit.ScalarType_Decimal(wit.DecimalType(int(precision), int(scale)))
    return _SCALARS[name]()


def _data_type(name: str):
    """A type's name (as the host writes it) as the contract's data-type."""
    if name.startswith("list<"):
        inner = name[len("list<"):-1]
        nullable = inner.startswith("nullable ")
        element = inner[len("nullable "):] if nullable else inner
        return wit.DataType_List(wit.ListType(_scalar(element), nullable))
    if name.startswith("fixed-size-list<"):
        element, size = name[len("fixed-size-list<"):-1].split(",")
        return wit.DataType_FixedSizeList(wit.FixedSizeListType(_scalar(element.strip()), int(size)))
    return wit.DataType_Scalar(_scalar(name))


def _wit_field(column) -> Field:
    return Field(column.name, _data_type(column.data_type), column.nullable)


class _RowFailed(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _invalid(message: str) -> Err:
    return Err(TransformError_InvalidInput(message))


def _shape(kind: str):
    """(scalar kind, "list" / "fixed" / None, element nullable, size),
    parsed once per type name: a call asks for it for every column."""
    shape = _SHAPES.get(kind)
    if shape is None:
        shape = _SHAPES[kind] = _parse_shape(kind)
    return shape


_SHAPES: dict = {}


def _parse_shape(kind: str):
    if kind.startswith("list<"):
        inner = kind[len("list<"):-1]
        if inner.startswith("nullable "):
            return inner[len("nullable "):], "list", True, 0
        return inner, "list", False, 0
    if kind.startswith("fixed-size-list<"):
        element, size = kind[len("fixed-size-list<"):-1].split(",")
        return element.strip(), "fixed", False, int(size)
    return kind, None, False, 0


def _fixed(kind: str, name: str, values: bytes, count: int) -> memoryview:
    """`count` fixed-width values of scalar type `kind`, checked."""
    view = memoryview(values).cast(_FORMATS[kind])
    if len(view) != count:
        raise _invalid(f"column `{name}`: {len(view)} values for {count} rows")
    return view


def _offsets(name: str, offsets, count: int) -> memoryview:
    """The offsets of `count` text or byte values, checked."""
    if offsets is None or len(offsets) != 4 * (count + 1):
        raise _invalid(f"column `{name}`: offsets do not hold {count} values")
    return memoryview(offsets).cast("I")


def _values(kind: str, name: str, values: bytes, offsets, count: int):
    """A function of an index that reads value `index` of `count` values
    of scalar type `kind` from their buffers."""
    if kind == "boolean":
        if len(values) != count:
            raise _invalid(f"column `{name}`: {len(values)} bytes for {count} booleans")
        return lambda i: values[i] != 0
    if kind in ("utf8", "binary"):
        runs = _offsets(name, offsets, count)
        if kind == "utf8":
            return lambda i: values[runs[i]:runs[i + 1]].decode("utf-8")
        return lambda i: values[runs[i]:runs[i + 1]]
    if kind.startswith("decimal("):
        scale = int(kind[len("decimal("):-1].split(",")[1])
        if len(values) != 16 * count:
            raise _invalid(f"column `{name}`: {len(values)} bytes for {count} decimals")
        exponent = -scale

        def decimal_value(i):
            units = int.from_bytes(values[16 * i:16 * i + 16], "little", signed=True)
            return decimal.Decimal(units).scaleb(exponent)

        return decimal_value
    view = _fixed(kind, name, values, count)
    if kind == "timestamp-micros":
        def timestamp(i):
            try:
                return EPOCH + datetime.timedelta(microseconds=view[i])
            except OverflowError:
                raise _RowFailed(
                    f"column `{name}`: {view[i]} microseconds is outside the range of Python's "
                    f"datetime (years 1 to 9999)"
                ) from None

        return timestamp
    if kind == "date":
        def date(i):
            try:
                return EPOCH_DATE + datetime.timedelta(days=view[i])
            except OverflowError:
                raise _RowFailed(
                    f"column `{name}`: {view[i]} days is outside the range of Python's date "
                    f"(years 1 to 9999)"
                ) from None

        return date
    return view.__getitem__


def _reader(column: Column, declared, rows: int):
    """A function of the row that reads this column's value (`None` for a
    null), after checking the column's shape once."""
    validity = column.validity
    if validity is not None and len(validity) != (rows + 7) // 8:
        raise _invalid(f"column `{declared.name}`: validity has {len(validity)} bytes for {rows} rows")
    kind, shape, element_nullable, size = _shape(declared.data_type)
    name = declared.name
    if shape is None:
        value = _values(kind, name, column.values, column.offsets, rows)
    elif shape == "fixed":
        view = memoryview(column.values).cast(_FORMATS[kind])
        if len(view) != rows * size:
            raise _invalid(f"column `{name}`: {len(view)} values for {rows} rows of {size}")

        def value(row):
            return view[row * size:(row + 1) * size].tolist()
    else:
        if column.offsets is None or len(column.offsets) != 4 * (rows + 1):
            raise _invalid(f"column `{name}`: list offsets do not hold {rows} rows")
        bounds = memoryview(column.offsets).cast("I")
        count = bounds[rows]
        element_validity = column.element_validity
        if kind in _FORMATS and kind not in ("timestamp-micros", "date") and element_validity is None:
            view = memoryview(column.values).cast(_FORMATS[kind])
            if len(view) != count:
                raise _invalid(f"column `{name}`: {len(view)} elements for {count}")

            def value(row):
                return view[bounds[row]:bounds[row + 1]].tolist()
        else:
            element = _values(kind, name, column.values, column.element_offsets, count)
            if element_validity is None:
                def value(row):
                    return [element(i) for i in range(bounds[row], bounds[row + 1])]
            else:
                def value(row):
                    return [element(i) if element_validity[i >> 3] >> (i & 7) & 1 else None
                            for i in range(bounds[row], bounds[row + 1])]
    if validity is None:
        return value

    def nullable(row):
        if validity[row >> 3] >> (row & 7) & 1:
            return value(row)
        return None

    return nullable


def _chunks(column: Column, declared, rows: int):
    """A function of (start, end) that iterates this column's values of
    rows `start` to `end` (`None` for a null), after checking the column's
    shape once. Plain columns (no nulls; numbers, booleans, text, bytes)
    are read a run of rows at a time by C code (a memoryview's `tolist`, a
    string's slices); the others row by row through `_reader`, lazily, so a
    value that cannot be read fails on its own row, after the rows before
    it."""
    kind, shape, _, _ = _shape(declared.data_type)
    if column.validity is None and shape is None:
        # The checks `_reader` makes of these columns, without its reader.
        values = column.values
        if kind in ("int32", "int64", "float32", "float64"):
            view = _fixed(kind, declared.name, values, rows)
            return lambda start, end: view[start:end].tolist()
        if kind == "boolean" and len(values) == rows:
            return lambda start, end: map(bool, values[start:end])
        if kind == "binary" or kind == "utf8" and values.isascii():
            bounds = _offsets(declared.name, column.offsets, rows).tolist()
            # A text column is decoded once; a character is a byte.
            source = values if kind == "binary" else values.decode("ascii")
            return lambda start, end: [
                source[i:j] for i, j in zip(bounds[start:end], bounds[start + 1:end + 1])
            ]
    read = _reader(column, declared, rows)
    return lambda start, end: map(read, range(start, end))


def _check(name: str, kind: str, value):
    """`value` as the column stores it; raises `_RowFailed` for a value the
    column's type cannot hold exactly."""
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
            raise _RowFailed(f"field `{name}`: {value} does not fit {kind}")
        expected = "an int"
    elif kind == "boolean":
        if type(value) is bool:
            return value
        expected = "a bool"
    elif kind == "utf8":
        if type(value) is str:
            return value
        expected = "a str"
    elif kind == "binary":
        if type(value) is bytes:
            return value
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        expected = "bytes"
    elif kind == "timestamp-micros":
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                raise _RowFailed(
                    f"field `{name}`: the datetime {value.isoformat()} has no time zone; "
                    f"return one with tzinfo=timezone.utc"
                )
            return (value - EPOCH) // _ONE_MICROSECOND
        expected = "a datetime"
    elif kind == "date":
        if type(value) is datetime.date:
            return (value - EPOCH_DATE).days
        expected = "a date (datetime.date, not a datetime)"
    else:  # decimal(p,s)
        precision, scale = (int(x) for x in kind[len("decimal("):-1].split(","))
        if isinstance(value, (decimal.Decimal, int)):
            exact = decimal.Decimal(value)
            if not exact.is_finite():
                raise _RowFailed(f"field `{name}`: {value} is not a number a decimal holds")
            units = exact.scaleb(scale)
            if units != units.to_integral_value():
                raise _RowFailed(
                    f"field `{name}`: {value} has more than {scale} digits after the point "
                    f"({kind}); round it with .quantize(Decimal('1e-{scale}'))"
                )
            units = int(units)
            if abs(units) >= 10 ** precision:
                raise _RowFailed(f"field `{name}`: {value} has more than {precision} digits ({kind})")
            return units
        expected = "a decimal.Decimal"
    raise _RowFailed(
        f"field `{name}` is {kind}, but the transform returned {type(value).__name__} "
        f"{value!r:.80}; return {expected}"
    )


def _placeholder(kind: str):
    if kind == "boolean":
        return False
    if kind == "utf8":
        return ""
    if kind == "binary":
        return b""
    if kind in ("float32", "float64"):
        return 0.0
    return 0


def _encode(kind: str, values: list) -> tuple[bytes, bytes | None]:
    """Checked values of scalar type `kind` as (values, offsets) buffers."""
    if kind == "boolean":
        return bytes(values), None
    if kind in ("utf8", "binary"):
        pieces = [v.encode("utf-8") for v in values] if kind == "utf8" else values
        offsets = array("I", [0])
        offsets.extend(accumulate(len(p) for p in pieces))
        return b"".join(pieces), offsets.tobytes()
    if kind.startswith("decimal("):
        return b"".join(v.to_bytes(16, "little", signed=True) for v in values), None
    return array(_FORMATS[kind], values).tobytes(), None


class _FieldFailed(Exception):
    """A field of row `row` that its column cannot hold."""

    def __init__(self, row: int, message: str):
        super().__init__(message)
        self.row = row
        self.message = message


# Per scalar type, the exact Python types whose values `_check` returns
# unchanged: a run of values of only these types (and in range, for
# integers) is stored as it is, without a call a value.
_PLAIN = {"float64": {float}, "float32": {float}, "int64": {int}, "int32": {int},
          "boolean": {bool}, "utf8": {str}, "binary": {bytes}}


class _Builder:
    """One output column's values and null rows. Made through `_builder`,
    which derives what the column's declaration decides (its name, its
    type's shape) once, as a subclass's attributes; an instance holds one
    call's values."""

    def __init__(self, rows: int):
        self.rows = rows
        self.values = []
        self.null_rows = []
        # Lists: each row's element count, and element nulls.
        self.lengths = []
        self.element_valid = []

    def extend(self, start: int, values) -> None:
        """Stores the values of rows from `start`; raises `_FieldFailed`
        for the first that the column cannot hold."""
        if self.plain is not None and set(map(type, values)) <= self.plain and (
            self.kind not in ("int64", "int32")
            or not values
            or (-self.bound <= min(values) and max(values) < self.bound)
        ):
            # What `push` would do, value by value.
            self.values.extend(values)
            return
        for row, value in enumerate(values, start):
            try:
                self.push(row, value)
            except _RowFailed as failed:
                raise _FieldFailed(row, failed.message) from None

    def push(self, row: int, value) -> None:
        if value is None:
            if not self.nullable:
                raise _RowFailed(f"field `{self.name}` is None, but it is not Optional in the dataclass")
            self.null_rows.append(row)
            if self.shape is None:
                self.values.append(_placeholder(self.kind))
            elif self.shape == "fixed":
                self.values.extend([0.0] * self.size)
            else:
                self.lengths.append(0)
            return
        if self.shape is None:
            self.values.append(_check(self.name, self.kind, value))
            return
        if not isinstance(value, (list, tuple)):
            raise _RowFailed(
                f"field `{self.name}` is {self.type_name}, but the transform returned "
                f"{type(value).__name__} {value!r:.80}; return a list"
            )
        if self.shape == "fixed" and len(value) != self.size:
            raise _RowFailed(
                f"field `{self.name}` is {self.type_name}, but the transform returned a list "
                f"of {len(value)} values"
            )
        for element in value:
            if element is None:
                if not self.element_nullable:
                    raise _RowFailed(
                        f"field `{self.name}` is {self.type_name}, whose elements are not "
                        f"Optional, but the list has a None"
                    )
                self.element_valid.append(False)
                self.values.append(_placeholder(self.kind))
            else:
                self.element_valid.append(True)
                self.values.append(_check(self.name, self.kind, element))
        self.lengths.append(len(value))

    def validity(self) -> bytes | None:
        """Arrow's validity bitmap of the rows, or `None` when none is null."""
        if not self.null_rows:
            return None
        bits = bytearray(b"\xff" * (self.rows // 8))
        if self.rows % 8:
            bits.append((1 << self.rows % 8) - 1)
        for row in self.null_rows:
            bits[row >> 3] &= ~(1 << (row & 7))
        return bytes(bits)

    def finish(self) -> Column:
        values, offsets = _encode(self.kind, self.values)
        validity = self.validity()
        if self.shape is None:
            return Column(values, offsets, validity, None, None)
        if self.shape == "fixed":
            return Column(values, None, validity, None, None)
        bounds = array("I", [0])
        bounds.extend(accumulate(self.lengths))
        element_validity = None
        if not all(self.element_valid):
            bits = bytearray((len(self.element_valid) + 7) // 8)
            for i, valid in enumerate(self.element_valid):
                if valid:
                    bits[i >> 3] |= 1 << (i & 7)
            element_validity = bytes(bits)
        return Column(values, bounds.tobytes(), validity, offsets, element_validity)


#: Per declared output column, its builder class: {id(column): (column, class)}
#: (the column is kept, so that its id is not reused).
_BUILDERS: dict = {}


def _builder(column, rows: int) -> _Builder:
    """A builder of `rows` values of the declared output `column`."""
    found = _BUILDERS.get(id(column))
    if found is None or found[0] is not column:
        kind, shape, element_nullable, size = _shape(column.data_type)
        attributes = {
            "name": column.name,
            "get": attrgetter(column.name),
            "nullable": column.nullable,
            "kind": kind,
            "shape": shape,
            "element_nullable": element_nullable,
            "size": size,
            "type_name": column.data_type,
            "plain": _PLAIN.get(kind) if shape is None else None,
        }
        if kind in ("int64", "int32"):
            attributes["bound"] = 1 << (63 if kind == "int64" else 31)
        found = _BUILDERS[id(column)] = (column, type("_Builder", (_Builder,), attributes))
    return found[1](rows)


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


def _transform():
    found = spec()
    if found is None:
        raise RuntimeError("no @transform was declared: decorate the row function with @transform")
    return found


def _grouped(chunks, arguments):
    """The argument chunk readers when a parameter is a class of
    aggregates: that parameter reads its fields' columns and builds the
    class."""
    if not any(a is not None for a in arguments):
        return chunks
    grouped, at = [], 0
    for argument in arguments:
        if argument is None:
            grouped.append(chunks[at])
            at += 1
        else:
            fields = chunks[at:at + len(argument.fields)]
            cls = argument.cls

            def group(start, end, fields=fields, cls=cls):
                return map(cls, *[chunk(start, end) for chunk in fields])

            grouped.append(group)
            at += len(argument.fields)
    return grouped


#: Rows run one at a time that are stored together (see `_run_rows`).
_PENDING_ROWS = 1024


def _row_failed(row: int, message: str) -> Err:
    return Err(TransformError_Failed(RowError(row, message)))


def _run_rows(input: Batch, inputs, outputs, function, features, arguments=(),
              budget=None) -> Batch:
    """Every row of `input` through `function` (arguments `inputs`, or
    classes of aggregates where `arguments` says so; result a `features`
    dataclass of `outputs`), in runs the host budgets (`budget`, which
    grants them in its place, when warming the interpreter).

    A run computes its rows (the function mapped over the columns' values),
    then stores them column by column. The first failure in row order is
    the one reported, as if each row were computed and stored before the
    next: a row's own failure (an exception, or a result that is not a
    `features`) comes before the failures of its fields, and of two fields
    of a row, the first declared."""
    rows = input.num_rows
    budget = host if budget is None else budget
    if len(input.columns) != len(inputs):
        raise _invalid(f"expected {len(inputs)} input columns, got {len(input.columns)}")
    chunks = [_chunks(column, declared, rows) for column, declared in zip(input.columns, inputs)]
    chunks = _grouped(chunks, arguments)
    builders = [_builder(column, rows) for column in outputs]

    def compute(start, end):
        """The results of rows `start` to `end`, up to the first row that
        failed, and that row's failure (or `None`)."""
        results, failure = [], None
        try:
            # `extend` keeps the results of the rows before a failure.
            results.extend(map(function, *[chunk(start, end) for chunk in chunks]))
        except _RowFailed as failed:
            failure = failed.message
        except Exception as error:
            failure = _failure(error)
        if results and set(map(type, results)) != {features}:
            at = next(i for i, result in enumerate(results) if type(result) is not features)
            result = results[at]
            del results[at:]
            failure = (
                f"the transform returned {type(result).__name__} {result!r:.80}, "
                f"not {features.__qualname__}"
            )
        return results, failure

    def store(start, results):
        """Stores the results of the rows from `start`; the first failure
        in row order (then column order) is raised."""
        if len(results) == 1:
            # One row (the host's precise mode, where storing is paid from
            # the batch's budget): a value at a time is cheaper.
            result = results[0]
            try:
                for builder in builders:
                    builder.push(start, builder.get(result))
            except _RowFailed as failed:
                raise _row_failed(start, failed.message) from None
            return
        first = None
        for builder in builders:
            try:
                builder.extend(start, list(map(builder.get, results)))
            except _FieldFailed as failed:
                if first is None or failed.row < first.row:
                    first = failed
        if first is not None:
            raise _row_failed(first.row, first.message)

    # Rows run one at a time (the host's precise mode) are stored together,
    # outside their budgets, up to `_PENDING_ROWS` at a time: storing a
    # run of rows costs far less a row than storing one.
    pending, pending_start = [], 0

    def flush():
        nonlocal pending
        if pending:
            done, pending = pending, []
            store(pending_start, done)

    row = 0
    while row < rows:
        chunk = budget.start_rows(row)
        end = min(rows, row + max(chunk, 1))
        try:
            results, failure = compute(row, end)
            if chunk > 1:
                # A run's outputs are stored on its budget.
                flush()
                store(row, results)
        finally:
            budget.end_rows()
        if chunk <= 1:
            # A row on its own budget ends before its output is stored.
            if not pending:
                pending_start = row
            pending += results
            if failure is not None or len(pending) >= _PENDING_ROWS:
                flush()
        if failure is not None:
            raise _row_failed(row + len(results), failure)
        row = end
    flush()
    return Batch(rows, [builder.finish() for builder in builders])


def _function(aggregate):
    name = aggregate.function
    if name == "last_n":
        return wit.AggregateFunction_LastN(aggregate.n)
    return {
        "count": wit.AggregateFunction_Count,
        "sum": wit.AggregateFunction_Sum,
        "mean": wit.AggregateFunction_Mean,
        "min": wit.AggregateFunction_Min,
        "max": wit.AggregateFunction_Max,
        "count_distinct": wit.AggregateFunction_CountDistinct,
        "first": wit.AggregateFunction_First,
        "last": wit.AggregateFunction_Last,
        "seconds_since_last": wit.AggregateFunction_SecondsSinceLast,
    }[name]()


def _aggregation(group):
    """The contract's declaration of a class of aggregates."""
    if group is None:
        return None
    source = group.events
    return wit.Aggregation(
        _wit_field(source.key),
        source.time,
        source.request_time,
        [_wit_field(c) for c in source.inputs],
        [_wit_field(c) for c in source.outputs],
        _wit_field(source.tie_break) if source.tie_break else None,
        _wit_field(source.event_id) if source.event_id else None,
        source.lateness_micros,
        [wit.Aggregate(column.name, _function(a), a.value, a.filter, a.window_micros)
         for column, a in zip(group.fields, group.aggregates)],
    )


class WitWorld(wit_world.WitWorld):
    """The component's exports: `describe`, `transform` and `events`."""

    def describe(self) -> TransformInfo:
        found = _transform()
        return TransformInfo(
            found.name,
            found.version,
            found.description,
            [_wit_field(c) for c in found.inputs],
            [_wit_field(c) for c in found.outputs],
            _aggregation(found.aggregates),
        )

    def transform(self, input: Batch) -> Batch:
        found = _transform()
        return _run_rows(input, found.inputs, found.outputs, found.function, found.features,
                         found.arguments)

    def events(self, input: Batch) -> Batch:
        group = _transform().aggregates
        if group is None:
            raise _invalid("this transform declares no aggregations, so it takes no events")
        source = group.events
        return _run_rows(input, source.inputs, source.outputs, source.function, source.values)


# The interpreter warmed before its snapshot.
#
# componentize-py snapshots the interpreter once the modules are imported,
# and every call starts from that snapshot. On a clean instance a call used
# to start with the interpreter's caches empty (attribute and dictionary key
# lookups, the specialized byte-code of the SDK's row loop): a clean one-row
# call took about 2.5 times a call on a reused instance. Running the SDK's
# loop a few times on one row of placeholder values while the component is
# built fills those caches in the snapshot. The user's code is never run:
# the row function is stood in for by one that returns placeholder
# features, made without calling the class (a features class whose
# attributes run code of their own is not warmed), so the snapshot holds
# the same user state as before (what the module did when imported) and a
# call still starts from it.

#: Calls of the loop before the snapshot; more measured no faster.
_WARM_CALLS = 3


class _Granted:
    """A stand-in for the host's `start-rows` / `end-rows`, which cannot be
    called while the component is built: one row at a time, as the host
    grants a one-row batch."""

    @staticmethod
    def start_rows(row: int) -> int:
        return 1

    @staticmethod
    def end_rows() -> None:
        pass


def _placeholder_column(declared) -> Column:
    """One row of `declared`'s type, as the host sends it: a zero, empty
    text or an empty list."""
    kind, shape, _, size = _shape(declared.data_type)
    if shape is None:
        values, offsets = _encode(kind, [_placeholder(kind)])
        return Column(values, offsets, None, None, None)
    if shape == "fixed":
        return Column(_encode(kind, [_placeholder(kind)] * size)[0], None, None, None, None)
    empty = array("I", [0, 0]).tobytes()
    element_offsets = array("I", [0]).tobytes() if kind in ("utf8", "binary") else None
    return Column(b"", empty, None, element_offsets, None)


def _placeholder_value(kind: str):
    """A value the SDK stores in a column of scalar type `kind`."""
    if kind == "timestamp-micros":
        return EPOCH
    if kind == "date":
        return EPOCH_DATE
    if kind.startswith("decimal("):
        return decimal.Decimal(0)
    return _placeholder(kind)


def _static(cls: type, name: str):
    """`name` as `cls` or a base class defines it, without running code."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    return None


def _plain(cls: type, names) -> bool:
    """Whether making an instance of `cls` without calling it, setting the
    fields `names` and reading them back runs none of its code: no
    `__getattribute__`, `__getattr__` or `__del__` of its own, and no
    property or other descriptor where a field is (slots excepted)."""
    if cls.__getattribute__ is not object.__getattribute__:
        return False
    if _static(cls, "__getattr__") is not None or _static(cls, "__del__") is not None:
        return False
    for name in names:
        found = _static(cls, name)
        if (found is not None and not isinstance(found, types.MemberDescriptorType)
                and hasattr(type(found), "__get__")):
            return False
    return True


def _placeholder_function(features: type, outputs):
    """A row function returning `features` of placeholder values, made
    without calling the class, or `None` when even that would run some of
    the user's code (see `_plain`)."""
    if not _plain(features, [column.name for column in outputs]):
        return None
    fields = []
    for column in outputs:
        kind, shape, _, size = _shape(column.data_type)
        value = _placeholder_value(kind)
        fields.append((column.name, value if shape is None else [value] * size))

    def function(*_):
        result = object.__new__(features)
        for name, value in fields:
            object.__setattr__(result, name, value)
        return result

    return function


def _warm(strict: bool = False) -> None:
    """Runs the loops of `transform` and `events` on placeholder rows.
    Warming is only an optimization: unless `strict` (the SDK's tests), a
    failure ends the warming (what ran before it stays warm) and the
    build goes on."""
    found = spec()
    if found is None:
        return
    loops = [(found.inputs, found.outputs, found.features)]
    if found.aggregates is not None:
        source = found.aggregates.events
        loops.append((source.inputs, source.outputs, source.values))
    try:
        for inputs, outputs, features in loops:
            function = _placeholder_function(features, outputs)
            if function is None:
                continue
            batch = Batch(1, [_placeholder_column(c) for c in inputs])
            for _ in range(_WARM_CALLS):
                _run_rows(batch, inputs, outputs, function, features, budget=_Granted)
    except Exception:
        if strict:
            raise


_warm()
