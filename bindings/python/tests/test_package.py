"""The `skewless` Python package: the same runtime as the CLI, in-process.

Parity is checked three ways on every example, on its bundled data and on
100,000 generated rows with edge values: `Transform.transform` (pyarrow and
polars in), `skewless.run` and the CLI's `skewless run` Parquet output must
agree bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import pickle
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import skewless
from conftest import assert_same_bits, cli, generated_table, read_bundled

ROWS = 100_000


def test_load_declares_what_the_cli_inspects(examples):
    path = examples["fraud-features"]["component"]
    t = skewless.load(path)
    inspected = json.loads(cli("inspect", path, "--json").stdout)
    assert t.name == "fraud-features" == inspected["name"]
    assert t.version == inspected["version"]
    assert t.sha256 == hashlib.sha256(Path(path).read_bytes()).hexdigest() == inspected["sha256"]
    assert t.description == inspected["description"]
    assert [(f.name, f.type, f.nullable) for f in t.inputs] == [
        (f["name"], f["data_type"], f["nullable"]) for f in inspected["inputs"]
    ]
    assert [f.name for f in t.outputs] == t.output_schema.names
    assert t.input_schema.field("amount").type == pa.float64()
    assert "fraud-features" in repr(t) and t.sha256 in repr(t)
    assert skewless.load(Path(path).read_bytes()).sha256 == t.sha256


@pytest.mark.parametrize("name", ["fraud-features", "fraud-features-py", "glucose-alerts", "email-subject"])
@pytest.mark.parametrize("data", ["bundled", "generated"])
def test_python_api_run_and_cli_are_bit_identical(examples, tmp_path, name, data):
    example = examples[name]
    t = skewless.load(example["component"])
    table = read_bundled(example["data"]) if data == "bundled" else generated_table(t, ROWS)
    source = tmp_path / "input.parquet"
    pq.write_table(table, source)

    reference = tmp_path / "cli.parquet"
    cli("run", example["component"], "--input", str(source), "--output", str(reference))
    expected = pq.read_table(reference)

    features = t.transform(table)
    assert_same_bits(expected, features)
    assert_same_bits(expected, t.transform(pl.from_arrow(table)))

    summary = skewless.run(t, source, tmp_path / "api.parquet")
    assert summary.rows == table.num_rows and summary.rejected == 0
    assert_same_bits(expected, pq.read_table(tmp_path / "api.parquet"))


def test_polars_string_views_and_record_batch_readers(fraud, examples):
    table = read_bundled(examples["fraud-features"]["data"])
    expected = fraud.transform(table)
    # polars' own export (string_view columns), a reader, a single batch.
    assert_same_bits(expected, fraud.transform(pl.from_arrow(table)))
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=100))
    assert_same_bits(expected, fraud.transform(reader))
    first = table.to_batches(max_chunksize=10)[0]
    assert_same_bits(expected.slice(0, 10), fraud.transform(first))


def test_keep_copies_columns_and_the_output_records_its_transform(fraud, examples, tmp_path):
    table = read_bundled(examples["fraud-features"]["data"])
    features = fraud.transform(table, keep=["transaction_id", "is_fraud"])
    assert features.column_names[:2] == ["transaction_id", "is_fraud"]
    assert features.column("transaction_id").equals(table.column("transaction_id"))
    metadata = features.schema.metadata
    assert metadata[b"skewless.transform.sha256"].decode() == fraud.sha256
    pq.write_table(features, tmp_path / "features.parquet")
    inspected = cli("inspect", str(tmp_path / "features.parquet")).stdout
    assert f"made by      fraud-features {fraud.version}" in inspected
    assert fraud.sha256 in inspected

    with pytest.raises(skewless.BadInput, match="cannot keep column `nope`: the input has no such column"):
        fraud.transform(table, keep=["nope"])
    with pytest.raises(skewless.BadInput, match="has an output column of that name"):
        fraud.transform(table.append_column("log_amount", table.column("amount")), keep=["log_amount"])


def test_pandas_in_and_out(fraud, examples):
    table = read_bundled(examples["fraud-features"]["data"])
    df = table.to_pandas()
    out = fraud.transform_pandas(df, keep=["transaction_id"])
    assert isinstance(out, pd.DataFrame)
    expected = fraud.transform(table, keep=["transaction_id"]).to_pandas()
    pd.testing.assert_frame_equal(out, expected)
    # pandas writes an integer column with nulls as float64: the package
    # applies the file rule (an integral float64 is not taken as int64).
    with pytest.raises(skewless.BadInput) as error:
        fraud.transform_pandas(df.assign(hour=df["hour"].astype("float64").where(df.index > 0)))
    assert error.value.column == "hour"
    # Kept columns come back as they went in: ids past 2**53 are not
    # rounded through float64.
    ids = [2**53 + 1, None, 2**62 + 7]
    small = df.head(3).assign(
        id=pd.array(ids, dtype="Int64"),
        loose=pd.Series([2**53 + 1, None, 7], dtype=object),
        name=pd.array(["a", None, "c"], dtype="string"),
    )
    out = fraud.transform_pandas(small, keep=["id", "loose", "name"])
    assert out["id"].dtype == "Int64" and out["id"].tolist() == small["id"].tolist()
    assert out["loose"].dtype == "Int64" and out["loose"].tolist() == [2**53 + 1, pd.NA, 7]
    assert out["name"].dtype == small["name"].dtype and out["name"].tolist() == small["name"].tolist()


def test_every_type_through_pandas_and_back(guests):
    t = skewless.load(guests["ALL_TYPES"])
    table = generated_table(t, 5_000).drop_columns(["row_id"])
    # In pandas a NaN is a null (what to_parquet writes): leave NaN out.
    for i, field in enumerate(table.schema):
        if pa.types.is_floating(field.type):
            column = table.column(i)
            table = table.set_column(i, field, pc.if_else(pc.is_nan(column), 0.0, column).cast(field.type))
    expected = t.transform(table)
    # pandas' nullable dtypes, so that integers with nulls stay integers.
    exact = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype(), pa.bool_(): pd.BooleanDtype()}
    out = t.transform_pandas(table.to_pandas(types_mapper=exact.get))
    for field in t.outputs:
        if field.nullable and field.type in ("int64", "int32", "boolean"):
            assert str(out[field.name].dtype) in ("Int64", "Int32", "boolean"), field
    for field in t.outputs:
        e = expected.column(field.name).combine_chunks()
        a = pa.array(out[field.name], from_pandas=True)
        if field.type == "timestamp-micros":
            e, a = e.cast(pa.int64()), a.cast(pa.int64())
        elif field.type == "utf8":
            a = a.cast(e.type)
        assert_same_bits(pa.table({field.name: e}), pa.table({field.name: a}))
    with pytest.raises(skewless.BadInput, match="column `d` is null in row 0"):
        t.transform_pandas(table.slice(0, 1).to_pandas().assign(d=float("nan")))


def test_rows_go_through_the_serving_codec(fraud, examples):
    table = read_bundled(examples["fraud-features"]["data"]).slice(0, 50)
    rows = table.select([f.name for f in fraud.inputs]).to_pylist()
    answered = fraud.transform_rows(rows)
    expected = fraud.transform(table).to_pylist()
    assert len(answered) == len(expected)
    for got, want in zip(answered, expected):
        for key, value in want.items():
            if isinstance(value, float):
                assert float(got[key]).hex() == value.hex(), key
            else:
                assert got[key] == value, key
    assert fraud.transform_row(rows[0]) == answered[0]
    with pytest.raises(skewless.BadInput, match="missing field `merchant_category`"):
        fraud.transform_rows([{"amount": 1.0, "hour": 3, "merchant_categry": "travel"}])


def test_rows_from_pandas_records_mean_what_the_dataframe_means(guests):
    """`df.to_dict("records")` carries NaN, numpy scalars, pd.NA and
    pd.Timestamp: rows of it compute what `transform_pandas(df)` does."""
    import numpy as np

    t = skewless.load(guests["ALL_TYPES"])
    table = generated_table(t, 400).drop_columns(["row_id"])
    exact = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype(), pa.bool_(): pd.BooleanDtype()}
    df = table.to_pandas(types_mapper=exact.get)
    # pandas' own missing markers, and NaN as pandas means it (missing).
    nullable = {f.name for f in t.inputs if f.nullable}
    # A NaN in a pandas float column means missing on both paths, so a
    # column that takes no nulls cannot hold one here.
    for f in t.inputs:
        if not f.nullable and f.type in ("float32", "float64"):
            df[f.name] = df[f.name].fillna(0.0)
    for name in nullable:
        df.loc[df.index % 7 == 3, name] = pd.NA if str(df[name].dtype) in ("Int64", "Int32", "boolean") else None
    records = df.to_dict("records")
    # What pandas hands out: pd.NA, pd.Timestamp, NaN (pandas 3 boxes
    # numpy scalars as Python's own; older pandas and df.iloc do not).
    kinds = {type(v).__module__.split(".")[0] for row in records for v in row.values()}
    assert "pandas" in kinds, kinds
    numpy_row = {k: (np.float64(v) if type(v) is float else np.int64(v) if type(v) is int
                     else np.bool_(v) if type(v) is bool else v) for k, v in records[0].items()}
    assert t.transform_rows([numpy_row]) == t.transform_rows(records[:1])
    expected = t.transform_pandas(df)
    answered = t.transform_rows(records)
    assert len(answered) == len(expected)
    for field in t.outputs:
        want = expected[field.name].tolist()
        got = [row[field.name] for row in answered]
        for i, (w, g) in enumerate(zip(want, got)):
            if w is None or w is pd.NA or w is pd.NaT or (isinstance(w, float) and w != w and g is None):
                assert g is None or (isinstance(g, str) and g.endswith("NaN")), (field.name, i, w, g)
            elif field.type == "timestamp-micros":
                assert pd.Timestamp(g) == w, (field.name, i)
            elif field.type == "float32" and isinstance(g, (int, float)):
                # JSON writes a float32 by its shortest float32 text.
                assert np.float32(g).tobytes() == np.float32(w).tobytes(), (field.name, i, w, g)
            elif isinstance(w, float):
                assert float(g).hex() == w.hex() if isinstance(g, (int, float)) else g in ("NaN", "Infinity", "-Infinity"), (field.name, i, w, g)
            else:
                assert g == w, (field.name, i, w, g)
    # A value of a type no column takes names its row and field.
    with pytest.raises(skewless.BadInput, match=r"row 0, field `d`: a object is not a value"):
        t.transform_rows([{**records[0], "d": object()}])


def test_an_empty_input_proves_nothing(fraud, examples, tmp_path):
    empty = tmp_path / "empty.parquet"
    table = read_bundled(examples["fraud-features"]["data"]).slice(0, 0)
    pq.write_table(table, empty)
    report = skewless.verify(fraud, empty)
    assert not report.passed and not bool(report)


def test_a_setting_skewless_cannot_use_is_invalid_setting(fraud, examples, tmp_path):
    with pytest.raises(skewless.InvalidSetting, match="invalid `fuel_per_row`"):
        skewless.load(examples["fraud-features"]["component"], fuel_per_row=0)
    # A backfill's options too, named as the keywords, before any row is read.
    source = examples["fraud-features"]["data"]
    output = tmp_path / "features.parquet"
    with pytest.raises(skewless.InvalidSetting, match="invalid `rejects`: none is given, and `on_error` `skip` needs one"):
        skewless.run(fraud, source, output, on_error="skip")
    with pytest.raises(skewless.InvalidSetting, match="invalid `on_error`: `null` writes nulls"):
        skewless.run(fraud, source, output, on_error="null", rejects=tmp_path / "r.jsonl")
    assert not output.exists()


def test_errors_are_exceptions_with_the_cli_messages(fraud, guests, examples, tmp_path):
    table = read_bundled(examples["fraud-features"]["data"])
    # A missing column: as `skewless run` says it of a file.
    without = table.drop_columns(["hour"])
    pq.write_table(without, tmp_path / "without.parquet")
    message = cli("run", examples["fraud-features"]["component"], "--input",
                  str(tmp_path / "without.parquet"), "--output", str(tmp_path / "o.parquet"),
                  check=False).stderr
    with pytest.raises(skewless.BadInput) as error:
        fraud.transform(without)
    assert error.value.column == "hour" and error.value.kind == "missing_column"
    # The file reader says it of the file, the library of the table.
    assert "no column `hour`" in message and "no column `hour`" in str(error.value)
    assert message.split("columns are: ")[1].strip() == str(error.value).split("columns are: ")[1]
    # A column of the wrong type.
    wrong = table.set_column(table.schema.get_field_index("amount"), "amount",
                             table.column("amount").cast(pa.string()))
    with pytest.raises(skewless.BadInput, match="column `amount` has type Utf8, but transform `fraud-features` takes float64") as error:
        fraud.transform(wrong)
    assert error.value.kind == "wrong_type"
    # A row the transform rejects: its row over the whole table, its message.
    fails = skewless.load(guests["FAILS_ROW"])
    amounts = pa.chunked_array([[1.0, 4.0], [9.0, -2.0, 16.0]])
    with pytest.raises(skewless.RowRejected, match="amount must not be negative, got -2") as error:
        fails.transform(pa.table({"amount": amounts}))
    assert error.value.row == 3
    # A sandbox limit.
    loop = skewless.load(guests["INFINITE_LOOP"], fuel_per_row=1_000_000)
    inputs = {f.name: pa.array([1.0] if f.type == "float64" else [1], type=loop.input_schema.field(f.name).type)
              for f in loop.inputs}
    with pytest.raises(skewless.LimitExceeded) as error:
        loop.transform(pa.table(inputs))
    assert error.value.limit == "CPU budget (fuel)" and error.value.row == 0
    # Pins, components, files.
    with pytest.raises(skewless.PinMismatch, match="but it is pinned to " + "ab" * 32):
        skewless.load(examples["fraud-features"]["component"], expect_sha256="ab" * 32)
    with pytest.raises(skewless.InvalidComponent, match="not a WebAssembly file"):
        skewless.load(b"hello")
    with pytest.raises(skewless.DataError, match="cannot read `nope.wasm`"):
        skewless.load("nope.wasm")
    with pytest.raises(TypeError, match="for a pandas DataFrame use transform_pandas"):
        fraud.transform(table.to_pandas().to_dict())
    with pytest.raises(ValueError, match='naive_timestamps must be "refuse" or "utc"'):
        skewless.load(examples["fraud-features"]["component"], naive_timestamps="local")
    # Exceptions survive pickling (they cross to Spark's driver).
    again = pickle.loads(pickle.dumps(error.value))
    assert type(again) is skewless.LimitExceeded and again.row == 0


def test_verify_reports_as_an_object(fraud, examples):
    report = skewless.verify(fraud, examples["fraud-features"]["data"], batch_sizes=[1, 64, "all"])
    assert report.passed and bool(report)
    assert report.rows == 2000 and report.rejected == 0
    assert [p.name for p in report.paths][1:] == ["batches of 1 row", "batches of 64 rows",
                                                  "one batch of all 2000 rows"]
    assert "online: each row alone through the JSON codec" in str(report)
    assert report.first_rejected is None
    # It reads files, as the CLI does, and says so when given a table.
    with pytest.raises(TypeError, match="verify reads files, as `skewless verify` does"):
        skewless.verify(fraud, read_bundled(examples["fraud-features"]["data"]))


def test_verify_names_the_first_rejected_row(fraud, tmp_path):
    unreadable = tmp_path / "unreadable.csv"
    unreadable.write_text("amount,hour,merchant_category\n1.5,3,travel\nabc,4,travel\n")
    report = skewless.verify(fraud, unreadable)
    assert report.passed and report.rejected == 1
    row, message = report.first_rejected
    assert row == 1 and '"abc" is not a float64' in message
    assert "the first rejected: " in str(report)


def test_a_lazy_frame_is_told_to_collect(fraud, examples):
    pl = pytest.importorskip("polars")
    lazy = pl.from_arrow(read_bundled(examples["fraud-features"]["data"])).lazy()
    with pytest.raises(TypeError, match=r"a polars LazyFrame is a query, not its rows: give its \.collect\(\)"):
        fraud.transform(lazy)


def _features_in_a_process(transform, table):
    return transform.transform(table)


def test_a_transform_pickles_as_its_bytes_and_settings(fraud, examples, tmp_path):
    t = skewless.load(examples["fraud-features"]["component"], fuel_per_row=5_000_000,
                      cache_dir=tmp_path / "cache")
    again = pickle.loads(pickle.dumps(t))
    assert again.sha256 == t.sha256 and again._settings == t._settings
    table = read_bundled(examples["fraud-features"]["data"])
    assert_same_bits(t.transform(table), again.transform(table))
    # To other processes, as multiprocessing and Spark send it.
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        outs = pool.starmap(_features_in_a_process, [(t, table.slice(0, 1000)), (t, table.slice(1000))])
    assert_same_bits(t.transform(table), pa.concat_tables(outs))


def _call_and_report(transform, table, other, answers):
    try:
        transform.transform(table)
        answers.put("the looping call succeeded")
    except Exception as e:  # noqa: BLE001 - the parent reports whatever it was
        answers.put(f"{type(e).__name__}: {e}")
    # Compiled here, not found in a cache.
    burn = skewless.load(other, cache_dir=None)
    answers.put(burn.transform(pa.table({"units": pa.array([3], type=pa.int64())})).num_rows)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork here")
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_a_forked_worker_keeps_the_deadline_and_loads(guests):
    # The fork start method (multiprocessing's default on Linux before
    # Python 3.14): the child has the parent's transform but none of its
    # threads, neither the deadline's clock nor the compiler's pool.
    # Compiled here (so the compiler's pool has started), not found in a cache.
    loop = skewless.load(guests["INFINITE_LOOP"], deadline=0.05, fuel_per_row=2**62, cache_dir=None)
    inputs = {f.name: pa.array([1], type=loop.input_schema.field(f.name).type) for f in loop.inputs}
    table = pa.table(inputs)
    with pytest.raises(skewless.LimitExceeded, match="ran longer than 50 ms"):
        loop.transform(table)
    context = multiprocessing.get_context("fork")
    answers = context.Queue()
    child = context.Process(target=_call_and_report, args=(loop, table, guests["BURN"], answers))
    child.start()
    child.join(60)
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail("the forked worker did not end in 60 s (a call past its 50 ms deadline, "
                    "or a load waiting for threads the child does not have)")
    assert child.exitcode == 0, f"the forked worker ended with exit code {child.exitcode}"
    answer = answers.get(timeout=10)
    assert answer.startswith("LimitExceeded") and "ran longer than 50 ms" in answer, answer
    assert answers.get(timeout=10) == 1


def test_threads_share_one_transform(fraud, examples):
    table = read_bundled(examples["fraud-features"]["data"])
    expected = fraud.transform(table)
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda _: fraud.transform(table), range(16)))
    for out in outs:
        assert_same_bits(expected, out)


def test_a_clean_instance_per_call_from_python(guests):
    counter = skewless.load(guests["COUNTER"])
    field = counter.inputs[0]
    table = pa.table({field.name: pa.array([5], type=counter.input_schema.field(field.name).type)})
    assert counter.transform(table).equals(counter.transform(table))
    reused = skewless.load(guests["COUNTER"], reuse_instances=True, max_instances=1)
    assert not reused.transform(table).equals(reused.transform(table))
