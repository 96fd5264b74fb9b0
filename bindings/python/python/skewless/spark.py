"""Backfills on Spark: a transform over a PySpark DataFrame, on the executors.

::

    from pyspark.sql import SparkSession
    import skewless.spark

    spark = SparkSession.builder.getOrCreate()
    df = spark.read.parquet("transactions.parquet")
    features = skewless.spark.transform(df, "fraud_features.wasm",
                                        keep=["transaction_id"],
                                        expect_sha256="317a065e...")
    features.write.parquet("features.parquet")

How it runs:

- **On the driver**, :func:`transform` loads the component once: it checks
  the pin (``expect_sha256``) and the DataFrame's columns against the
  transform's declaration (a missing column or a column of the wrong type
  fails here, naming the column, before any task runs), and derives the
  output schema from the declaration.
- **Across the network**, the component's bytes go to each executor once,
  as a broadcast variable; the data does not move: each partition is
  transformed where it is.
- **On the executors**, ``DataFrame.mapInArrow`` hands each Python worker
  its partitions as Arrow batches; the worker loads the component once
  (through the precompiled cache) and runs every batch through the same
  Rust runtime as ``skewless run`` and ``skewless serve``, so the result is
  bit-identical to both.

The output's feature fields carry the transform's name, version and sha256
in their Spark metadata; Spark writes them into its Parquet files, and
``skewless inspect`` shows that provenance.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Dict, Iterator, Optional, Sequence, Union

from . import BadInput, RowRejected, SkewlessError, Transform, load
from .errors import LimitExceeded

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow
    from pyspark.sql import DataFrame
    from pyspark.sql.types import DataType, StructType

__all__ = ["transform", "output_schema"]

# One loaded transform per component per Python worker (workers are reused
# across tasks), keyed by sha256.
_WORKER_TRANSFORMS: Dict[str, Transform] = {}


def _spark_type(data_type: str) -> "DataType":
    """The Spark type of a contract type (its name, as :class:`skewless.Field`
    gives it). Lists of a fixed size are Spark arrays."""
    from pyspark.sql import types as T

    simple = {
        "float64": T.DoubleType(),
        "float32": T.FloatType(),
        "int64": T.LongType(),
        "int32": T.IntegerType(),
        "boolean": T.BooleanType(),
        "utf8": T.StringType(),
        "timestamp-micros": T.TimestampType(),
        "date": T.DateType(),
        "binary": T.BinaryType(),
    }
    if data_type in simple:
        return simple[data_type]
    if data_type.startswith("decimal(") and data_type.endswith(")"):
        precision, scale = data_type[len("decimal("):-1].split(",")
        return T.DecimalType(int(precision), int(scale))
    if data_type.startswith("list<") and data_type.endswith(">"):
        element = data_type[len("list<"):-1]
        nullable = element.startswith("nullable ")
        return T.ArrayType(_spark_type(element[len("nullable "):] if nullable else element), nullable)
    if data_type.startswith("fixed-size-list<") and data_type.endswith(">"):
        element, _size = data_type[len("fixed-size-list<"):-1].rsplit(",", 1)
        return T.ArrayType(_spark_type(element.strip()), False)
    raise BadInput(f"a {data_type} column has no Spark type", kind="wrong_type")


def _for_spark(table: "pyarrow.Table") -> "pyarrow.Table":
    """`table` as Spark takes results from Arrow, every value unchanged:
    fixed-size lists as plain lists (a Spark array), and timestamps
    labelled UTC. Spark sends timestamps in the session's time zone (a
    kept column comes back so) but checks a cogrouped result's against
    UTC; the label changes no instant."""
    import pyarrow as pa

    def spark_type(data_type):
        if pa.types.is_fixed_size_list(data_type):
            return pa.list_(data_type.value_field)
        if pa.types.is_timestamp(data_type) and data_type.tz not in (None, "UTC"):
            return pa.timestamp(data_type.unit, tz="UTC")
        return data_type

    if all(spark_type(f.type) == f.type for f in table.schema):
        return table
    fields = [pa.field(f.name, spark_type(f.type), f.nullable, f.metadata) for f in table.schema]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def output_schema(df: "DataFrame", t: Transform, keep: Sequence[str] = ()) -> "StructType":
    """The schema :func:`transform` produces: the ``keep`` fields of ``df``,
    then the transform's outputs, each carrying the provenance metadata
    (``skewless.transform.name``, ``.version``, ``.sha256``, ``.spec``)."""
    from pyspark.sql import types as T

    provenance = t.provenance
    fields = [df.schema[name] for name in keep]
    for out in t.outputs:
        fields.append(T.StructField(out.name, _spark_type(out.type), out.nullable, dict(provenance)))
    return T.StructType(fields)


def _arrow_schema(df: "DataFrame", needed: Sequence[str], what: str) -> "pyarrow.Schema":
    """The Arrow schema Spark sends ``df``'s columns in (timestamps in the
    session's time zone): all of them, so that an error lists what the
    DataFrame has, unless one Arrow cannot carry is not ``needed`` anyway."""
    import inspect

    from pyspark.sql.pandas.types import to_arrow_schema as spark_to_arrow

    # What mapInArrow sends: timestamps in the session's time zone.
    zone = df.sparkSession.conf.get("spark.sql.session.timeZone")
    if "timezone" in inspect.signature(spark_to_arrow).parameters:
        def to_arrow_schema(schema):
            return spark_to_arrow(schema, timezone=zone)
    else:  # PySpark 3.5
        to_arrow_schema = spark_to_arrow

    names = set(df.columns)
    try:
        return to_arrow_schema(df.schema)
    except TypeError:
        try:
            return to_arrow_schema(df.select(*[n for n in needed if n in names]).schema)
        except TypeError as e:
            raise BadInput(f"the {what}'s columns cannot be sent to the transform: {e}",
                           kind="wrong_type") from None


def _check_columns(df: "DataFrame", t: Transform, keep: Sequence[str],
                   events: "Optional[DataFrame]" = None) -> None:
    """The library's own column check, on the driver, with no data: empty
    Arrow tables of the DataFrames' (needed) columns go through
    ``Transform.transform``, which refuses a missing column or a wrong
    type exactly as for a file."""
    missing_kept = [k for k in keep if k not in set(df.columns)]
    if missing_kept:
        raise BadInput(
            f"cannot keep column `{missing_kept[0]}`: the DataFrame has no such column; its "
            f"columns are: {', '.join(df.columns)}",
            kind="bad_request",
        )
    inputs = [f.name for f in t.spine_inputs]
    schema = _arrow_schema(df, inputs + [k for k in keep if k not in inputs], "DataFrame")
    if events is None:
        t.transform(schema.empty_table(), keep=keep)
        return
    event_schema = _arrow_schema(events, [f.name for f in t.event_columns], "events")
    t.transform(schema.empty_table(), keep=keep, events=event_schema.empty_table())


def transform(
    df: "DataFrame",
    component: Union[Transform, str, "os.PathLike[str]", bytes],
    *,
    keep: Sequence[str] = (),
    events: "Optional[DataFrame]" = None,
    expect_sha256: Optional[str] = None,
    **load_options: Any,
) -> "DataFrame":
    """The features of every row of ``df``, computed on the executors.

    For a transform that aggregates, ``df`` is the spine and ``events`` a
    DataFrame of the events: both are co-grouped by the key
    (``groupBy(key).cogroup(...).applyInArrow``), and each key's spine rows
    get the features as of their time from that key's events, bit for bit
    what ``skewless run --events`` writes (rows come in Spark's order: keep
    an id column to join on).

    ``component`` is a :class:`skewless.Transform` or a component path
    (read on the driver). ``keep`` columns are copied in front of the
    features; ``expect_sha256`` refuses any other component before a task
    runs; other keyword arguments are :func:`skewless.load`'s limits and
    settings, used on every executor.

    Returns a DataFrame (lazy, like any Spark transformation) with the
    schema of :func:`output_schema`. A row the transform rejects fails the
    job, and the driver's error names the partition, the row's values and
    the transform's message.
    """
    if isinstance(component, Transform):
        if load_options:
            raise TypeError(
                "settings go to skewless.load when given a path; a Transform already has them: "
                + ", ".join(sorted(load_options))
            )
        t = component
        if expect_sha256 is not None:
            t.expect_sha256(expect_sha256)
    else:
        t = load(component, expect_sha256=expect_sha256, **load_options)
    keep = list(keep)
    if t.aggregation is None and events is not None:
        raise BadInput(f"transform `{t.name}` declares no aggregations, so it takes no `events=`",
                       kind="bad_request")
    if t.aggregation is not None and events is None:
        raise BadInput(
            f"transform `{t.name}` aggregates events: pass them as `events=` (a DataFrame), "
            f"beside the spine's rows (key, time, and the other inputs)",
            kind="bad_request",
        )
    _check_columns(df, t, keep, events)
    _check_workers(df.sparkSession)
    schema = output_schema(df, t, keep)
    inputs = [f.name for f in t.spine_inputs]
    columns = inputs + [k for k in keep if k not in inputs]
    spark = df.sparkSession
    shipped = spark.sparkContext.broadcast(t.component_bytes())
    sha256 = t.sha256
    settings = dict(t._settings)

    def worker_transform() -> Transform:
        worker = _WORKER_TRANSFORMS.get(sha256)
        if worker is None:
            worker = load(shipped.value, expect_sha256=sha256, **settings)
            _WORKER_TRANSFORMS[sha256] = worker
        return worker

    if events is not None:
        key = t.aggregation["key"]["name"]
        event_columns = [f.name for f in t.event_columns]

        def aggregated(spine: "pyarrow.Table", events: "pyarrow.Table") -> "pyarrow.Table":
            if spine.num_rows == 0:  # a key with events and no spine rows: nothing to run
                events = events.slice(0, 0)
            try:
                out = worker_transform().transform(spine, keep=keep, events=events)
            except (RowRejected, BadInput, LimitExceeded) as e:
                raise _with_row(e, spine, inputs) from None
            return _for_spark(out)

        grouped = df.select(*columns).groupBy(key).cogroup(events.select(*event_columns).groupBy(key))
        return grouped.applyInArrow(aggregated, schema)

    def features(batches: Iterator["pyarrow.RecordBatch"]) -> Iterator["pyarrow.RecordBatch"]:
        worker = worker_transform()
        for batch in batches:
            try:
                out = worker.transform(batch, keep=keep)
            except (RowRejected, BadInput, LimitExceeded) as e:
                raise _with_row(e, batch, inputs) from None
            yield from _for_spark(out).to_batches()

    return df.select(*columns).mapInArrow(features, schema)


# Spark contexts whose workers were seen to import skewless (by id).
_WORKERS_CHECKED: set = set()


def _check_workers(spark: "SparkSession") -> None:
    """Refuses, on the driver, a cluster whose Python workers cannot import
    skewless, rather than fail later with a bare ``ModuleNotFoundError``
    deep in a worker's stack. One small job per SparkContext."""
    context = spark.sparkContext
    if id(context) in _WORKERS_CHECKED:
        return

    def probe(_):  # runs on a worker: must not need skewless to unpickle
        import importlib.util
        import sys

        return sys.executable, importlib.util.find_spec("skewless") is not None

    try:
        executable, found = context.parallelize([0], 1).map(probe).collect()[0]
    except Exception as error:  # the probe itself could not run: say so, go on
        import warnings

        warnings.warn(f"skewless could not check the Spark workers' Python: {error}", stacklevel=3)
        return
    if not found:
        import sys

        raise SkewlessError(
            f"the Python of Spark's workers (`{executable}`) cannot import skewless; install "
            f"the skewless package into it, or point Spark at a Python that has it: set "
            f"PYSPARK_PYTHON (e.g. PYSPARK_PYTHON={sys.executable}) before the session starts, "
            f"or spark.pyspark.python",
            kind="spark_workers",
        )
    _WORKERS_CHECKED.add(id(context))


def _with_row(error: SkewlessError, batch: "pyarrow.RecordBatch", inputs: Sequence[str]) -> SkewlessError:
    """``error`` with where it happened on Spark: the partition, and the
    row's input values (a row number within a batch means nothing there)."""
    where = []
    try:
        from pyspark import TaskContext

        context = TaskContext.get()
        if context is not None:
            where.append(f"in partition {context.partitionId()}")
    except ImportError:  # pragma: no cover
        pass
    if error.row is not None and error.row < batch.num_rows:
        where.append(f"row {error.row} of a batch of {batch.num_rows}")
        row = batch.slice(error.row, 1).select([c for c in inputs if c in batch.schema.names])
        where.append(f"the row's input values: {json.dumps(row.to_pylist()[0], default=str)}")
    return type(error)(
        f"{error} ({'; '.join(where)})" if where else str(error),
        kind=error.kind,
        row=error.row,
        column=error.column,
        limit=error.limit,
    )
