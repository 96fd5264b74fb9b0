"""skewless: one WebAssembly feature transform, bit-identical offline and online.

A transform is one component file (built from Rust or Python with
``skewless build``); its identity is the sha256 of its bytes. This package
runs it with the same Rust runtime as the ``skewless`` CLI and
``skewless serve``, so features computed in a notebook, a pipeline or on
Spark are bit for bit what the server answers::

    import skewless
    t = skewless.load("fraud_features.wasm", expect_sha256="317a065e...")
    features = t.transform(table)              # pyarrow / polars in, pyarrow out
    df_features = t.transform_pandas(df)       # pandas in and out
    rows = t.transform_rows([{"amount": 12.5, "hour": 3, "merchant_category": "travel"}])
    skewless.run(t, "in.parquet", "out.parquet", keep=["transaction_id"])
    report = skewless.verify(t, "in.parquet")  # the parity proof

Calls release the GIL: threads sharing one ``Transform`` run in parallel,
each call on a clean instance of its own. A ``Transform`` pickles as its
component bytes and settings, so it travels to Spark executors, Ray
workers and multiprocessing pools (see :mod:`skewless.spark`).
"""

from __future__ import annotations

import base64 as _base64
import datetime as _datetime
import decimal as _decimal
import json as _json
import os as _os
import warnings as _warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, List, Mapping, Optional, Sequence, Union

from . import _native
from .errors import (
    BadInput,
    DataError,
    InvalidComponent,
    InvalidOutput,
    InvalidSetting,
    LimitExceeded,
    PinMismatch,
    RowRejected,
    SkewlessError,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas
    import pyarrow

__version__: str = _native.__version__

_DEFAULT = object()


@dataclass(frozen=True)
class Field:
    """One input or output column of a transform."""

    name: str
    #: The contract's name of the type: ``"float64"``, ``"float32"``,
    #: ``"int64"``, ``"int32"``, ``"boolean"``, ``"utf8"``,
    #: ``"timestamp-micros"`` (UTC), ``"date"``, ``"binary"``,
    #: ``"decimal(18,2)"``, ``"list<utf8>"``, ``"fixed-size-list<float32, 768>"``...
    type: str
    nullable: bool


class Transform:
    """A loaded transform. Make one with :func:`load`.

    Attributes:
        name, version, description: what the transform declares.
        sha256: the sha256 of the component file, its identity.
        inputs, outputs: the declared columns, as :class:`Field`.
        spine_inputs, aggregation: for a transform that aggregates, what
            its spine and events give.
    """

    __slots__ = ("_native", "_settings", "name", "version", "sha256", "description",
                 "inputs", "outputs", "spine_inputs", "event_columns", "aggregation")

    def __init__(self, native: "_native.Transform", settings: Mapping[str, Any]) -> None:
        self._native = native
        self._settings = dict(settings)
        self.name: str = native.name
        self.version: str = native.version
        self.sha256: str = native.sha256
        self.description: str = native.description
        spec = _json.loads(native.spec_json())
        self.inputs: List[Field] = [_field(f) for f in spec["inputs"]]
        self.outputs: List[Field] = [_field(f) for f in spec["outputs"]]
        #: The columns the data given to :meth:`transform` needs: the
        #: inputs, or for a transform that aggregates, the key, the time and
        #: the inputs that are not aggregates.
        self.spine_inputs: List[Field] = [_field(f) for f in _json.loads(native.spine_inputs_json())]
        #: What the transform aggregates (its key, time columns, event
        #: columns and aggregates, as ``skewless inspect --json`` shows
        #: them), or None.
        self.aggregation: Optional[dict] = spec.get("aggregation")
        #: The columns the events given to :meth:`transform` need (empty
        #: when the transform does not aggregate).
        self.event_columns: List[Field] = [_field(f) for f in _json.loads(native.event_columns_json())]

    @property
    def input_schema(self) -> "pyarrow.Schema":
        """The declared input columns as a pyarrow schema."""
        return self._native.input_schema()

    @property
    def output_schema(self) -> "pyarrow.Schema":
        """The declared output columns as a pyarrow schema."""
        return self._native.output_schema()

    @property
    def provenance(self) -> dict:
        """The metadata every output carries: the transform's name, version,
        sha256 and declaration (``skewless.transform.*`` keys)."""
        return dict(self._native.provenance())

    def transform(self, data: Any, *, keep: Sequence[str] = (), events: Any = None) -> "pyarrow.Table":
        """The features of ``data``: one output row per input row, in order.

        ``data`` is Arrow data: a pyarrow ``Table``, ``RecordBatch`` or
        ``RecordBatchReader``, a polars ``DataFrame``, or anything exposing
        ``__arrow_c_stream__`` / ``__arrow_c_array__``. Its buffers are read
        in place (no copy). Input columns are matched by name (others are
        ignored) under the same rules as ``skewless run`` on a file; columns
        named in ``keep`` are copied in front of the features. The result's
        schema carries :attr:`provenance`, so ``pyarrow.parquet.write_table``
        records which transform made it (``skewless inspect`` shows it).

        For a transform that aggregates, ``events`` is Arrow data of the
        events (any order) and ``data`` the spine: each output row has the
        features as of its row's time, as ``skewless run --events`` computes
        them, bit for bit.

        Raises :class:`BadInput` for data the transform does not take,
        :class:`RowRejected` for a row its code rejects (``e.row`` counts
        from 0 over the whole table), :class:`LimitExceeded` for a sandbox
        limit.
        """
        return self._native.transform(data, keep=list(keep), events=events)

    def transform_pandas(self, df: "pandas.DataFrame", *, keep: Sequence[str] = (),
                         events: "Optional[pandas.DataFrame]" = None) -> "pandas.DataFrame":
        """Like :meth:`transform`, for a pandas DataFrame in and out.

        The DataFrame goes to Arrow as ``pyarrow.Table.from_pandas`` (and
        ``DataFrame.to_parquet``) writes it, so a column means the same here
        as in a Parquet file written by pandas. Outputs come back as numpy
        columns, except nullable integer and boolean outputs, which use
        pandas' nullable dtypes (``Int64``, ``boolean``) so that no value is
        turned into a float; timestamps are ``datetime64[us, UTC]``. ``keep``
        columns come back with their dtype in ``df`` where pandas can build
        it from Arrow (``Int64``, ``string``, ...), and otherwise never as
        floats: an integer column with missing values is ``Int64``.
        """
        import pyarrow as pa

        table = pa.Table.from_pandas(df, preserve_index=False)
        if events is not None:
            events = pa.Table.from_pandas(events, preserve_index=False)
        kept = {name: df[name].dtype for name in keep if name in df.columns}
        return _to_pandas(self.transform(table, keep=keep, events=events), self.outputs, kept)

    def transform_rows(self, rows: Iterable[Mapping[str, Any]]) -> List[dict]:
        """Rows as dicts in, feature rows as dicts out, through the serving
        codec: exactly what ``skewless serve`` answers for the same rows.

        Rows as pandas gives them work as they are:
        ``t.transform_rows(df.to_dict("records"))`` computes what
        :meth:`transform_pandas` computes for ``df``. Values are read as
        pyarrow reads a pandas column: ``None``, ``pd.NA``, ``NaT`` and a
        float NaN are null (write the string ``"NaN"`` for a NaN value);
        numpy scalars are their values; a ``datetime`` or ``pd.Timestamp``
        is its instant (a naive one falls under the ``naive_timestamps``
        rule, a fraction of a microsecond is refused); a string holds a
        value's text, as in a CSV cell. Timestamps come back as RFC 3339
        text, as in a response, and so do the floats JSON has no number
        for: the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``
        (:meth:`transform_pandas` and :meth:`transform` give floats).
        """
        rows = [_json_row(i, row) for i, row in enumerate(rows)]
        text = _json.dumps(rows, allow_nan=False)
        return _json.loads(self._native.transform_json(text))

    def transform_row(self, row: Mapping[str, Any]) -> dict:
        """One row: :meth:`transform_rows` of ``[row]``."""
        return self.transform_rows([row])[0]

    def expect_sha256(self, sha256: str) -> None:
        """Raises :class:`PinMismatch` unless the component has this sha256."""
        self._native.expect_sha256(sha256)

    def component_bytes(self) -> bytes:
        """The component file's bytes."""
        return self._native.component_bytes()

    def __reduce__(self):
        # Travels as its bytes, its sha256 (checked on arrival) and its
        # settings; loads through the precompiled cache where it lands.
        return (_unpickle, (self.component_bytes(), self.sha256, self._settings))

    def __repr__(self) -> str:
        return repr(self._native)


def _field(spec: Mapping[str, Any]) -> Field:
    return Field(name=spec["name"], type=spec["data_type"], nullable=bool(spec["nullable"]))


def _json_row(index: int, row: Mapping[str, Any]) -> dict:
    """A row of Python values as the JSON a request carries (see
    :meth:`Transform.transform_rows`)."""
    if not isinstance(row, Mapping):
        raise BadInput(
            f"row {index}: expected a mapping of column names to values (a dict), found "
            f"{type(row).__name__}",
            kind="bad_row",
            row=index,
        )
    return {str(name): _json_value(index, name, value) for name, value in row.items()}


def _json_value(index: int, name: Any, value: Any) -> Any:
    if value is None:
        return None
    kind = type(value)
    if kind is bool or kind is int or kind is str:
        return value
    if kind is float:
        if value != value:  # NaN: missing, as pandas and pyarrow read it
            return None
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    module = kind.__module__
    if module == "numpy":
        if kind.__name__ in ("datetime64", "timedelta64"):
            if value != value:  # NaT
                return None
            raise BadInput(
                f"row {index}, field `{name}`: a numpy {kind.__name__} has no time zone; pass "
                f"a pandas Timestamp or datetime with one",
                kind="wrong_type",
                row=index,
                column=str(name),
            )
        if hasattr(value, "item"):
            return _json_value(index, name, value.item())
    if module.startswith("pandas"):
        if kind.__name__ in ("NAType", "NaTType"):
            return None
    if isinstance(value, _datetime.datetime):  # pandas' Timestamp too
        return value.isoformat()
    if isinstance(value, _datetime.date):
        return value.isoformat()
    if isinstance(value, _decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (list, tuple)) or (module == "numpy" and hasattr(value, "tolist")):
        items = value.tolist() if module == "numpy" else value
        return [_json_value(index, name, item) for item in items]
    # Subclasses of the plain types (IntEnum, a str subclass, ...).
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _json_value(index, name, float(value))
    if isinstance(value, str):
        return str(value)
    raise BadInput(
        f"row {index}, field `{name}`: a {kind.__name__} is not a value skewless can take "
        f"({value!r:.60})",
        kind="wrong_type",
        row=index,
        column=str(name),
    )


def _to_pandas(table: "pyarrow.Table", outputs: Sequence[Field],
               kept: Optional[Mapping[str, Any]] = None) -> "pandas.DataFrame":
    """`table` as a DataFrame in which no integer is turned into a float:
    nullable outputs and columns with nulls of integer or boolean type get
    pandas' nullable dtypes; `kept` columns (name to the dtype they had)
    get their dtype back where it can be built from Arrow."""
    import pandas as pd
    import pyarrow as pa

    kept = kept or {}
    nullable = {f.name for f in outputs if f.nullable}
    dtypes = {
        pa.int64(): pd.Int64Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int8(): pd.Int8Dtype(),
        pa.uint64(): pd.UInt64Dtype(),
        pa.uint32(): pd.UInt32Dtype(),
        pa.uint16(): pd.UInt16Dtype(),
        pa.uint8(): pd.UInt8Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    columns = {}
    for name, column in zip(table.column_names, table.columns):
        dtype = kept.get(name)
        if dtype is not None and hasattr(dtype, "__from_arrow__"):
            # An extension dtype (`Int64`, `string`, `boolean`, ...): as it was.
            columns[name] = column.to_pandas(types_mapper=lambda _type, dtype=dtype: dtype)
        elif column.type in dtypes and (name in nullable or column.null_count > 0):
            columns[name] = column.to_pandas(types_mapper=dtypes.get)
        else:
            columns[name] = column.to_pandas()
    return pd.DataFrame(columns)


def _unpickle(component: bytes, sha256: str, settings: Mapping[str, Any]) -> Transform:
    return load(component, expect_sha256=sha256, **settings)


def load(
    component: Union[str, "_os.PathLike[str]", bytes],
    *,
    expect_sha256: Optional[str] = None,
    fuel_per_row: Optional[int] = None,
    memory_limit: Optional[int] = None,
    max_output_bytes: Optional[int] = None,
    deadline: Optional[float] = None,
    max_instances: Optional[int] = None,
    reuse_instances: bool = False,
    naive_timestamps: str = "refuse",
    cache_dir: Any = _DEFAULT,
) -> Transform:
    """Loads a transform component: a path to a ``.wasm`` file, or its bytes.

    The keyword arguments are the CLI's limits and settings, with the
    CLI's defaults:

    - ``expect_sha256``: refuse (:class:`PinMismatch`) any component but
      this one, before anything runs.
    - ``fuel_per_row``: CPU budget per row (default 100,000,000).
    - ``memory_limit``, ``max_output_bytes``: bytes (default 256 MiB each).
    - ``deadline``: seconds a call may take (default none).
    - ``max_instances``: calls that may run at once, each on an instance of
      its own (default twice the CPUs); memory is at most this times
      ``memory_limit``.
    - ``reuse_instances``: keep instances warm between calls instead of a
      clean instance per call (faster; only for transforms known to keep no
      state; see the README).
    - ``naive_timestamps``: ``"refuse"`` (default) or ``"utc"``.
    - ``cache_dir``: where compiled components are kept (default the CLI's,
      ``~/.cache/skewless``); ``None`` compiles on every load.

    Raises :class:`InvalidComponent` for a file that is not a usable
    transform, :class:`DataError` for one that cannot be read.
    """
    if isinstance(component, (bytes, bytearray, memoryview)):
        data, name = bytes(component), "<component bytes>"
    else:
        name = _os.fspath(component)
        try:
            with open(name, "rb") as file:
                data = file.read()
        except OSError as e:
            raise DataError(f"cannot read `{name}`: {e.strerror or e}", kind="io") from None
    settings = dict(
        fuel_per_row=fuel_per_row,
        memory_limit=memory_limit,
        max_output_bytes=max_output_bytes,
        deadline=deadline,
        max_instances=max_instances,
        reuse_instances=reuse_instances,
        naive_timestamps=naive_timestamps,
    )
    # A pickled transform keeps the caller's cache directory only if one
    # was given: by default it uses the default of the machine it lands on.
    if cache_dir is not _DEFAULT:
        settings["cache_dir"] = None if cache_dir is None else _os.fspath(cache_dir)
    resolved = settings.get("cache_dir", _DEFAULT)
    if resolved is _DEFAULT:
        default = _native.default_cache_dir()
        resolved = None if default is None else _os.fspath(default)
    native = _native.load(data, name, **{**settings, "cache_dir": resolved})
    transform = Transform(native, settings)
    if expect_sha256 is not None:
        transform.expect_sha256(expect_sha256)
    return transform


def _loaded(transform: Union[Transform, str, "_os.PathLike[str]", bytes]) -> Transform:
    return transform if isinstance(transform, Transform) else load(transform)


def _utc(micros: int) -> _datetime.datetime:
    """UTC microseconds as an aware datetime (exact: both count microseconds)."""
    epoch = _datetime.datetime(1970, 1, 1, tzinfo=_datetime.timezone.utc)
    return epoch + _datetime.timedelta(microseconds=micros)


def _micros(moment: _datetime.datetime) -> int:
    if moment.tzinfo is None:
        raise BadInput("a naive datetime has no time zone; pass an aware one (UTC)",
                       kind="wrong_type")
    epoch = _datetime.datetime(1970, 1, 1, tzinfo=_datetime.timezone.utc)
    delta = moment - epoch
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True)
class Ingested:
    """What :meth:`Online.ingest` did: events applied, and the rows (of the
    batch given, from 0) that were not, by why."""

    applied: int
    duplicates: List[int]
    late: List[int]
    expired: List[int]
    #: When the batch arrived (UTC). Answers that saw these events have an
    #: :attr:`Answered.arrival` at or after it.
    arrival: _datetime.datetime


@dataclass(frozen=True)
class Answered:
    """What :meth:`Online.features` answered."""

    #: The feature rows: dicts for dict rows, a pyarrow Table for Arrow data.
    rows: Any
    #: The clock when asked: the time of rows that gave none (UTC).
    as_of: _datetime.datetime
    #: The arrival of the last events the answer saw: log it with the
    #: request as ``_arrival`` to get the answer again with ``skewless run
    #: --as-served``.
    arrival: _datetime.datetime


class Online:
    """A transform's live state, in this process: what ``skewless serve``
    keeps for a transform that declares aggregations, with the same rules
    and the same engine::

        online = skewless.Online(t, state="state")   # or in memory, or "redis://host:6379/0"
        online.ingest([{"card_id": "c1", "ts": "2026-03-01T10:00:00Z", "amount": 12.5,
                        "merchant": "books", "declined": False}])
        answered = online.features([{"card_id": "c1", "amount": 30.0}])  # as of now
        answered.rows[0]["tx_count_1h"], answered.as_of, answered.arrival

    An event with a declared id is applied once per key; one older than its
    key's newest event minus the declared lateness is late (dropped, and
    named); the state answers as of times no earlier than its newest event
    less the lateness and ``query_lag``. With ``state`` a directory, an
    ingestion returns once its events are on disk, and opening the directory
    again replays them (one process at a time holds a directory). The
    transform's state is kept in ``state/NAME/``, as ``skewless serve
    --state`` keeps it, so a server's state directory opens here too. With
    ``state`` a Redis URL, the state is shared with every ``skewless serve``
    and ``Online`` given the same URL (each answers from every event any of
    them acknowledged; all must keep the same ``query_lag``).
    ``state_dir`` is the older name of ``state``.
    """

    def __init__(self, transform: Union[Transform, str, "_os.PathLike[str]", bytes], *,
                 state: Optional[Union[str, "_os.PathLike[str]"]] = None,
                 query_lag: Union[_datetime.timedelta, float] = _datetime.timedelta(hours=1),
                 state_dir: Optional[Union[str, "_os.PathLike[str]"]] = None) -> None:
        t = _loaded(transform)
        if state is not None and state_dir is not None:
            raise InvalidSetting("give state (a directory or a Redis URL), not also state_dir")
        if state is None:
            state = state_dir
        if isinstance(query_lag, _datetime.timedelta):
            lag = query_lag // _datetime.timedelta(microseconds=1)
        else:
            lag = round(float(query_lag) * 1_000_000)
        if lag < 0:
            raise InvalidSetting(f"query_lag must not be negative, not {query_lag!r}")
        self.transform = t
        self._native = _native.Online(
            t._native, None if state is None else _os.fspath(state), lag)

    @staticmethod
    def _is_rows(data: Any) -> bool:
        return isinstance(data, (list, tuple)) or (
            not hasattr(data, "__arrow_c_stream__") and not hasattr(data, "__arrow_c_array__")
            and not type(data).__module__.startswith("pandas") and isinstance(data, Iterable))

    @staticmethod
    def _arrow(data: Any) -> Any:
        if type(data).__module__.startswith("pandas"):
            import pyarrow as pa

            return pa.Table.from_pandas(data, preserve_index=False)
        return data

    def ingest(self, events: Any) -> Ingested:
        """Applies events (one batch: one arrival): dicts (as
        :meth:`Transform.transform_rows` takes rows), Arrow data, or a
        pandas DataFrame, with the transform's event columns."""
        if self._is_rows(events):
            rows = [_json_row(i, row) for i, row in enumerate(events)]
            result = self._native.ingest_json(_json.dumps(rows, allow_nan=False))
        else:
            result = self._native.ingest(self._arrow(events))
        applied, duplicates, late, expired, arrival = result
        return Ingested(applied, list(duplicates), list(late), list(expired), _utc(arrival))

    def features(self, rows: Any) -> Answered:
        """The features of requests (the key, optionally the time, and the
        row function's inputs), as of each row's time or, without one, now.
        Dicts in, dicts out (through the serving codec: what ``skewless
        serve`` answers); Arrow data or pandas in, a pyarrow Table out."""
        if self._is_rows(rows):
            rows = [_json_row(i, row) for i, row in enumerate(rows)]
            text, as_of, arrival = self._native.features_json(_json.dumps(rows, allow_nan=False))
            return Answered(_json.loads(text), _utc(as_of), _utc(arrival))
        table, as_of, arrival = self._native.features(self._arrow(rows))
        return Answered(table, _utc(as_of), _utc(arrival))

    def stats(self) -> dict:
        """Events and entities held; events applied, duplicates, late and
        expired since opened."""
        names = ("events", "entities", "applied", "duplicates", "late", "expired")
        return dict(zip(names, self._native.stats()))

    def export(self, path: Union[str, "_os.PathLike[str]"], *,
               after: Optional[_datetime.datetime] = None) -> int:
        """Writes the events the state holds (that arrived after ``after``)
        to ``path`` as JSON Lines, each as received with ``_arrival``: the
        events file of ``skewless run --as-served``. Returns how many. Only
        for a state kept in a directory or in Redis (one in memory keeps no
        log). The state keeps events only within its windows: for a
        complete log, export at least once per longest window, each time
        ``after`` the previous export's last ``_arrival``."""
        return self._native.export(_os.fspath(path), None if after is None else _micros(after))

    def __repr__(self) -> str:
        return f"<skewless.Online {self.transform.name} {self.stats()}>"


@dataclass(frozen=True)
class BackfillSummary:
    """What :func:`run` did."""

    rows: int
    batches: int
    seconds: float
    rejected: int
    output: str
    #: With ``events``: how many were read.
    events: Optional[int] = None
    #: With ``events``: rows whose key no event has (all their windows are
    #: empty). All of them usually means keys written differently.
    rows_without_events: Optional[int] = None


def run(
    transform: Union[Transform, str, "_os.PathLike[str]", bytes],
    input: Union[str, "_os.PathLike[str]"],
    output: Union[str, "_os.PathLike[str]"],
    *,
    keep: Sequence[str] = (),
    on_error: str = "fail",
    rejects: Optional[Union[str, "_os.PathLike[str]"]] = None,
    max_rejects: Optional[Union[int, str]] = None,
    batch_size: Optional[int] = None,
    threads: Optional[int] = None,
    events: Optional[Union[str, "_os.PathLike[str]"]] = None,
) -> BackfillSummary:
    """``skewless run``: the features of the file ``input`` into ``output``
    (formats by extension: ``.parquet``, ``.arrow``, ``.csv``, ``.jsonl``),
    with the transform's provenance in its metadata.

    For a transform that aggregates, ``events`` is the events file and
    ``input`` the spine: each output row has the features as of its row's
    time (``skewless run --events``).

    ``transform`` is a :class:`Transform` or a component path. ``keep``,
    ``on_error`` (``"fail"``, ``"skip"``, ``"null"``), ``rejects``,
    ``max_rejects`` (a count, or a percentage such as ``"1%"``),
    ``batch_size`` and ``threads`` are the CLI's options. On error no
    output is left behind.
    """
    t = _loaded(transform)
    rows, batches, seconds, rejected, events_read, warning = _native.run(
        t._native,
        _os.fspath(input),
        _os.fspath(output),
        keep=list(keep),
        on_error=on_error,
        rejects=None if rejects is None else _os.fspath(rejects),
        max_rejects=None if max_rejects is None else str(max_rejects),
        batch_size=batch_size,
        threads=threads,
        events=None if events is None else _os.fspath(events),
    )
    if warning is not None:
        _warnings.warn(warning, stacklevel=2)
    return BackfillSummary(rows, batches, seconds, rejected, _os.fspath(output),
                           *(events_read or (None, None)))


@dataclass(frozen=True)
class Mismatch:
    """The first value of a path that differs from the backfill."""

    row: int
    column: str
    expected: str
    actual: str


@dataclass(frozen=True)
class PathReport:
    """How one path compared with the backfill (the reference)."""

    name: str
    rows_differing: int
    first_mismatch: Optional[Mismatch]
    error: Optional[str]
    #: Whether every value of this path matched (decided by the library).
    passed: bool


@dataclass(frozen=True)
class VerifyReport:
    """The parity proof of :func:`verify`: every path, compared bit for bit
    with the backfill. ``bool(report)`` is ``report.passed``: true only when
    rows were compared (an empty input proves nothing) and every path
    matched."""

    rows: int
    columns: int
    rejected: int
    paths: List[PathReport]
    #: Whether the proof holds (decided by the library, as for the CLI).
    passed: bool
    #: The first rejected row (in the input) and why, or ``None``.
    first_rejected: Optional[tuple] = None

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        lines = [f"{self.rows} rows, {self.columns} output columns, {self.rejected} rejected"]
        if self.first_rejected is not None:
            lines.append(f"  the first rejected: {self.first_rejected[1]}")
        for p in self.paths:
            status = "ok" if p.passed else "FAILED"
            lines.append(f"  {p.name:<48} {status}")
            if p.error:
                lines.append(f"    {p.error}")
            elif p.first_mismatch:
                m = p.first_mismatch
                lines.append(
                    f"    {p.rows_differing} rows differ; first: row {m.row}, column "
                    f"`{m.column}`: expected {m.expected}, found {m.actual}"
                )
        return "\n".join(lines)


def verify(
    transform: Union[Transform, str, "_os.PathLike[str]", bytes],
    input: Union[str, "_os.PathLike[str]"],
    *,
    batch_sizes: Optional[Sequence[Union[int, str]]] = None,
    events: Union[str, "_os.PathLike[str]", None] = None,
) -> VerifyReport:
    """``skewless verify``: the rows of ``input`` through the backfill, each
    row alone through the serving codec, and batches of each size
    (default 1, 7, 1024 and ``"all"``), compared bit for bit. A transform
    that aggregates takes its ``events`` file too (``--events``), and is
    also compared with a served state fed those events."""
    t = _loaded(transform)
    sizes = None if batch_sizes is None else [str(s) for s in batch_sizes]
    raw = _native.verify(
        t._native,
        _file("input", input),
        batch_sizes=sizes,
        events=None if events is None else _file("events", events),
    )
    paths = [
        PathReport(
            name=p["name"],
            rows_differing=p["rows_differing"],
            first_mismatch=Mismatch(**p["first_mismatch"]) if p["first_mismatch"] else None,
            error=p["error"],
            passed=p["passed"],
        )
        for p in raw["paths"]
    ]
    return VerifyReport(
        rows=raw["rows"],
        columns=raw["columns"],
        rejected=raw["rejected"],
        paths=paths,
        passed=raw["passed"],
        first_rejected=tuple(raw["first_rejected"]) if raw["first_rejected"] else None,
    )


def _file(what: str, path: Any) -> str:
    """`path` as a path, or a TypeError that says :func:`verify` reads files."""
    try:
        return _os.fspath(path)
    except TypeError:
        raise TypeError(
            f"verify reads files, as `skewless verify` does: `{what}` is a path, not "
            f"{type(path).__name__}; write the data to a file first (a pyarrow table: "
            f"pyarrow.parquet.write_table(table, \"{what}.parquet\"))"
        ) from None


__all__ = [
    "load",
    "run",
    "verify",
    "Transform",
    "Field",
    "Online",
    "Ingested",
    "Answered",
    "BackfillSummary",
    "VerifyReport",
    "PathReport",
    "Mismatch",
    "SkewlessError",
    "InvalidComponent",
    "PinMismatch",
    "BadInput",
    "RowRejected",
    "LimitExceeded",
    "InvalidOutput",
    "DataError",
    "InvalidSetting",
]
