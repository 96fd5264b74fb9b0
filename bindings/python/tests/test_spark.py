"""`skewless.spark` on PySpark in local mode (`local[2]`): the Spark output
is bit-identical to `skewless run`'s, failures reach the driver clearly,
and Spark's Parquet files record which transform made them."""

from __future__ import annotations

import datetime
import decimal
import json
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import skewless
import skewless.spark
from conftest import assert_same_bits, cli, generated_table, read_bundled

ROWS = 100_000


@pytest.fixture(scope="module")
def spark():
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("skewless-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "America/New_York")
        .config("spark.driver.memory", "2g")
        # Timestamps before 1900 in files not written by Spark (the edge cases)
        # are read as written (proleptic Gregorian), not refused.
        .config("spark.sql.parquet.datetimeRebaseModeInRead", "CORRECTED")
        .config("spark.sql.parquet.datetimeRebaseModeInWrite", "CORRECTED")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.mark.parametrize("name", ["fraud-features", "fraud-features-py", "glucose-alerts", "email-subject"])
def test_spark_output_is_bit_identical_to_skewless_run(spark, examples, tmp_path, name):
    example = examples[name]
    t = skewless.load(example["component"])
    bundled = read_bundled(example["data"])
    bundled = bundled.append_column("row_id", pa.array(range(bundled.num_rows), pa.int64()))
    generated = generated_table(t, ROWS)
    for label, table in (("bundled", bundled), ("generated", generated)):
        source = tmp_path / f"{label}.parquet"
        pq.write_table(table, source, row_group_size=30_000)
        reference = tmp_path / f"{label}-cli.parquet"
        cli("run", example["component"], "--input", str(source), "--output", str(reference))
        expected = pq.read_table(reference)

        df = spark.read.parquet(str(source))
        features = skewless.spark.transform(df, t, keep=["row_id"])
        # Spark does not promise an order: put the rows back by their id.
        got = features.toArrow().sort_by("row_id").drop_columns(["row_id"])
        assert_same_bits(expected, got)


@pytest.mark.parametrize("name", ["card-velocity", "card-velocity-py"])
def test_spark_aggregates_are_bit_identical_to_skewless_run(spark, examples, tmp_path, name):
    """Spine and events co-grouped by key on the executors: every feature
    bit what `skewless run --events` writes."""
    example = examples[name]
    t = skewless.load(example["component"])
    spine = read_bundled(example["data"])
    spine = spine.append_column("row_id", pa.array(range(spine.num_rows), pa.int64()))
    events = read_bundled(example["events"])
    # Spark reads Parquet timestamps in microseconds.
    micros = pa.timestamp("us", tz="UTC")
    spine = spine.set_column(spine.schema.get_field_index("ts"), "ts", spine["ts"].cast(micros))
    events = events.set_column(events.schema.get_field_index("ts"), "ts", events["ts"].cast(micros))
    pq.write_table(spine, tmp_path / "spine.parquet")
    pq.write_table(events, tmp_path / "events.parquet", row_group_size=700)
    reference = tmp_path / "cli.parquet"
    cli("run", example["component"], "--events", str(tmp_path / "events.parquet"),
        "--input", str(tmp_path / "spine.parquet"), "--output", str(reference))
    expected = pq.read_table(reference)
    df = spark.read.parquet(str(tmp_path / "spine.parquet"))
    ev = spark.read.parquet(str(tmp_path / "events.parquet"))
    # A kept timestamp too: Spark sends it in the session's zone (New York
    # here) and takes a cogrouped result's back only labelled UTC.
    features = skewless.spark.transform(df, t, events=ev, keep=["row_id", "ts"])
    got = features.toArrow().sort_by("row_id")
    assert got["ts"].cast(pa.int64()).equals(spine["ts"].cast(pa.int64()))
    assert_same_bits(expected, got.drop_columns(["row_id", "ts"]))
    with pytest.raises(skewless.BadInput, match=r"pass them as `events=` \(a DataFrame\)"):
        skewless.spark.transform(df, t)


def test_spark_carries_dates_decimals_and_embeddings_exactly(spark, examples, tmp_path):
    """order-features from Spark: DateType, DecimalType(18,2) and an array
    of floats as the embedding, bit for bit what `skewless run` writes."""
    example = examples["order-features"]
    reference = tmp_path / "cli.parquet"
    cli("run", example["component"], "--input", example["data"], "--output", str(reference),
        "--keep", "order_id")
    expected = pq.read_table(reference).sort_by("order_id")
    source = tmp_path / "orders.parquet"
    # The orders as Spark would hold them, read back by Spark.
    rows = [json.loads(line) for line in open(example["data"])]
    df = spark.createDataFrame(
        [(r["order_id"], datetime.date.fromisoformat(r["order_date"]),
          r["signup_date"] and datetime.date.fromisoformat(r["signup_date"]),
          decimal.Decimal(r["amount"]), r["discount"] and decimal.Decimal(r["discount"]),
          r["item_embedding"]) for r in rows],
        "order_id string, order_date date, signup_date date, amount decimal(18,2), "
        "discount decimal(18,2), item_embedding array<float>")
    df.write.parquet(str(source))
    features = skewless.spark.transform(spark.read.parquet(str(source)), example["component"],
                                        keep=["order_id"])
    got = features.toArrow().sort_by("order_id")
    assert got["order_id"].to_pylist() == expected["order_id"].to_pylist()
    assert_same_bits(expected.drop_columns(["order_id"]), got.drop_columns(["order_id"]))


def test_spark_parquet_records_the_transform(spark, examples, tmp_path):
    example = examples["fraud-features"]
    t = skewless.load(example["component"])
    source = tmp_path / "in.parquet"
    pq.write_table(read_bundled(example["data"]), source)
    df = spark.read.parquet(str(source))
    features = skewless.spark.transform(df, example["component"], keep=["transaction_id"],
                                        expect_sha256=t.sha256)
    field = features.schema["log_amount"]
    assert field.metadata["skewless.transform.sha256"] == t.sha256
    assert features.schema["transaction_id"].metadata == {}
    out = tmp_path / "features"
    features.coalesce(1).write.parquet(str(out))
    part = next(p for p in out.iterdir() if p.suffix == ".parquet")
    inspected = cli("inspect", str(part)).stdout
    assert f"made by      fraud-features {t.version}" in inspected
    assert t.sha256 in inspected


def test_a_rejected_row_fails_the_job_with_its_values(spark, guests):
    df = spark.createDataFrame([(1.0,), (4.0,), (-2.5,), (9.0,)], "amount double").repartition(1)
    features = skewless.spark.transform(df, guests["FAILS_ROW"])
    with pytest.raises(Exception) as error:
        features.collect()
    text = str(error.value)
    assert "RowRejected" in text
    assert "amount must not be negative, got -2.5" in text
    assert 'the row\'s input values: {"amount": -2.5}' in text
    assert "(in partition 0; row 2 of a batch of 4;" in text


def test_a_pin_mismatch_refuses_before_any_task(spark, examples):
    df = spark.read.parquet(_fraud_parquet(spark, examples))
    tracker = spark.sparkContext.statusTracker()
    spark.sparkContext.setJobGroup("pin", "pin mismatch")
    with pytest.raises(skewless.PinMismatch, match="pinned to " + "cd" * 32):
        skewless.spark.transform(df, examples["fraud-features"]["component"], expect_sha256="cd" * 32)
    assert tracker.getJobIdsForGroup("pin") == []


def test_a_column_of_the_wrong_type_is_named_on_the_driver(spark, examples):
    df = spark.createDataFrame([("12.5", 3, "travel")], "amount string, hour long, merchant_category string")
    with pytest.raises(skewless.BadInput, match="column `amount` has type Utf8, but transform `fraud-features` takes float64") as error:
        skewless.spark.transform(df, examples["fraud-features"]["component"])
    assert error.value.column == "amount"
    df = spark.createDataFrame([(12.5, "travel")], "amount double, merchant_category string")
    with pytest.raises(skewless.BadInput, match="input has no column `hour`") as error:
        skewless.spark.transform(df, examples["fraud-features"]["component"])
    df = spark.createDataFrame([(12.5, 3, "travel")], "amount double, hour int, merchant_category string")
    # An int column widens exactly to the declared int64.
    assert skewless.spark.transform(df, examples["fraud-features"]["component"]).count() == 1
    with pytest.raises(skewless.BadInput, match="cannot keep column `id`"):
        skewless.spark.transform(df, examples["fraud-features"]["component"], keep=["id"])


def test_columns_of_an_aggregation_are_checked_on_the_driver(spark, examples):
    """Spine and events of the wrong types are refused when the transform is
    set up, before any task runs, whether or not the data has rows."""
    card = examples["card-velocity"]["component"]
    spine = "card_id string, ts timestamp, amount double"
    events = "card_id string, ts timestamp, amount double, merchant string, declined boolean"
    good_spine = spark.createDataFrame([], spine)
    good_events = spark.createDataFrame([], events)
    assert skewless.spark.transform(good_spine, card, events=good_events).count() == 0
    wrong_events = spark.createDataFrame([], events.replace("amount double", "amount string"))
    with pytest.raises(skewless.BadInput, match="in `events`: column `amount` has type Utf8"):
        skewless.spark.transform(good_spine, card, events=wrong_events)
    wrong_spine = spark.createDataFrame([], spine.replace("ts timestamp", "ts string"))
    with pytest.raises(skewless.BadInput, match="column `ts` has type Utf8"):
        skewless.spark.transform(wrong_spine, card, events=good_events)
    no_amount = spark.createDataFrame([], "card_id string, ts timestamp")
    with pytest.raises(skewless.BadInput,
                       match=r"input has no column `amount` \(float64\), which transform "
                             r"`card-velocity` needs; the input's columns are: `card_id`, `ts`") as error:
        skewless.spark.transform(no_amount, card, events=good_events)
    assert "tx_count" not in str(error.value)  # the spine's columns, not the aggregates


_PARQUET = {}


def _fraud_parquet(spark, examples) -> str:
    if "fraud" not in _PARQUET:
        import tempfile

        path = os.path.join(tempfile.mkdtemp(), "fraud.parquet")
        pq.write_table(read_bundled(examples["fraud-features"]["data"]), path)
        _PARQUET["fraud"] = path
    return _PARQUET["fraud"]


def test_workers_without_the_package_are_named_on_the_driver():
    """Before any work, the driver asks one worker whether its Python can
    import skewless; if not, the error says what to set."""

    class Context:
        def parallelize(self, data, slices):
            return self

        def map(self, function):
            self.function = function
            return self

        def collect(self):
            executable, _ = self.function(0)  # the probe itself runs here
            return [(executable, False)]

    class Session:
        sparkContext = Context()

    with pytest.raises(skewless.SkewlessError, match=r"cannot import skewless.*PYSPARK_PYTHON"):
        skewless.spark._check_workers(Session())
