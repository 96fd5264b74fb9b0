"""Data as it comes: files written by pandas, pyarrow, polars and DuckDB,
with their defaults, go through every path of skewless exactly, or are
refused up front with a message that says what to do.

For each file: the values the transform received (the `echo` test guest
returns them), every input column kept (`--keep`) into each output format
and read back, `verify`, and `inspect --rows`. Run by the Rust test
`conformance::data_as_it_comes` (so by `cargo test`), which sets
SKEWLESS (the built CLI) and SKEWLESS_ECHO (the echo component).
"""

import datetime as dt
import json
import math
import os
import struct
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
import requests

SKEWLESS = os.environ["SKEWLESS"]
ECHO = os.environ["SKEWLESS_ECHO"]
CACHE = os.environ.get("SKEWLESS_CACHE_DIR")

UTC = dt.timezone.utc
NAN = float("nan")
INF = float("inf")

# The rows every writer writes: one column per kind of value, edges in each.
# `at` is given to the microsecond; a unit coarser than that truncates it.
ROWS = [
    dict(id=0, flag=True, count=0, small=0, ratio=0.1, amount=0.1, name="grocery",
         at=dt.datetime(2026, 3, 2, 0, 10, 43, 123456, tzinfo=UTC)),
    dict(id=1, flag=False, count=-1, small=-1, ratio=-0.0, amount=-0.0, name="",
         at=dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    dict(id=2, flag=None, count=2**53 + 1, small=2**31 - 1, ratio=INF, amount=5e-324,
         name='héllo, "world"', at=dt.datetime(1900, 1, 1, tzinfo=UTC)),
    dict(id=3, flag=True, count=2**63 - 1, small=-(2**31), ratio=NAN, amount=1e308,
         name="日本語 🎉", at=dt.datetime(2262, 4, 11, 23, 47, 16, 854775, tzinfo=UTC)),
    dict(id=4, flag=False, count=-(2**63), small=None, ratio=None, amount=-INF,
         name="line\nbreak", at=None),
    dict(id=5, flag=None, count=None, small=7, ratio=3.5, amount=NAN, name=None,
         at=dt.datetime(2000, 2, 29, 12, 0, 0, 500000, tzinfo=UTC)),
]
COLUMNS = list(ROWS[0])
UNITS = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 1}


def micros(at, unit="us"):
    """Microseconds since the epoch of `at`, truncated to `unit`."""
    if at is None:
        return None
    delta = at - dt.datetime(1970, 1, 1, tzinfo=UTC)
    us = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return us - us % UNITS[unit]


def f32_bits(x):
    return None if x is None else struct.unpack("<I", struct.pack("<f", x))[0]


def f64_bits(x):
    return None if x is None else struct.unpack("<Q", struct.pack("<d", x))[0]


def expected(unit="us", nan_is_null=False, empty_is_null=False, inf_is_null=False,
             loses_negative_zero=False):
    """What the echo transform must return for ROWS, as comparable values:
    float bits, timestamps as microseconds. The flags say what a writer did
    to the rows before skewless saw them: pandas writes NaN as null (and its
    JSON also infinities as null and -0.0 as 0.0; polars' JSON infinities
    and NaN as null); a CSV file cannot tell an empty string from a null
    (skewless reads both as null, as the README says)."""
    def written(x):
        if x is None or (nan_is_null and math.isnan(x)) or (inf_is_null and math.isinf(x)):
            return None
        if loses_negative_zero and x == 0:
            return 0.0
        return x
    return [
        dict(
            seen_id=r["id"], seen_flag=r["flag"], seen_count=r["count"], seen_small=r["small"],
            seen_ratio=f32_bits(written(r["ratio"])),
            seen_amount=f64_bits(written(r["amount"])),
            seen_name=None if empty_is_null and r["name"] == "" else r["name"],
            seen_at=micros(r["at"], unit),
        )
        for r in ROWS
    ]


def skewless(*args, ok=True):
    cache = ["--cache-dir", CACHE] if CACHE else ["--no-cache"]
    result = subprocess.run([SKEWLESS, *args, *cache], capture_output=True, text=True)
    if ok and result.returncode != 0:
        raise AssertionError(f"skewless {' '.join(args)} failed:\n{result.stderr}{result.stdout}")
    if not ok and result.returncode == 0:
        raise AssertionError(f"skewless {' '.join(args)} succeeded; expected a refusal")
    return result


# ---------------------------------------------------------------- writers


def in_unit(at, unit):
    """`at` as an integer count of `unit`s since the epoch."""
    us = micros(at, unit)
    if us is None:
        return None
    return us * 1000 if unit == "ns" else us // {"s": 1_000_000, "ms": 1_000, "us": 1}[unit]


def pandas_frame(unit, zone):
    values = pd.array([in_unit(r["at"], unit) for r in ROWS], dtype="Int64")
    at = pd.Series(values.to_numpy("int64", na_value=-(2**63)).astype(f"datetime64[{unit}]"))
    if zone is not None:
        tz = dt.timezone(dt.timedelta(hours=1)) if zone == "+01:00" else zone
        at = at.dt.tz_localize("UTC").dt.tz_convert(tz)
    return pd.DataFrame({
        "id": [r["id"] for r in ROWS],  # int64
        "flag": pd.array([r["flag"] for r in ROWS], dtype="boolean"),
        "count": pd.array([r["count"] for r in ROWS], dtype="Int64"),
        # pandas' default int64, for an `i32` argument: exact when every value fits.
        "small": pd.array([r["small"] for r in ROWS], dtype="Int64"),
        "ratio": pd.array([r["ratio"] for r in ROWS], dtype="float32"),
        "amount": [r["amount"] for r in ROWS],
        "name": [r["name"] for r in ROWS],  # pandas 3: str, written as large_string
        "at": at,
    })


def arrow_table(unit, zone, strings=pa.string()):
    at = pa.array([in_unit(r["at"], unit) for r in ROWS], pa.int64()).cast(pa.timestamp(unit, zone))
    names = pa.array([r["name"] for r in ROWS], pa.string())
    if pa.types.is_dictionary(strings):
        names = names.dictionary_encode()
    else:
        names = names.cast(strings)
    return pa.table({
        "id": pa.array([r["id"] for r in ROWS], pa.int64()),
        "flag": pa.array([r["flag"] for r in ROWS], pa.bool_()),
        "count": pa.array([r["count"] for r in ROWS], pa.int64()),
        "small": pa.array([r["small"] for r in ROWS], pa.int32()),
        "ratio": pa.array([r["ratio"] for r in ROWS], pa.float32()),
        "amount": pa.array([r["amount"] for r in ROWS], pa.float64()),
        "name": names,
        "at": at,
    })


def polars_frame(unit, zone, categorical=False):
    frame = pl.DataFrame({
        "id": pl.Series([r["id"] for r in ROWS], dtype=pl.Int64),
        "flag": pl.Series([r["flag"] for r in ROWS], dtype=pl.Boolean),
        "count": pl.Series([r["count"] for r in ROWS], dtype=pl.Int64),
        "small": pl.Series([r["small"] for r in ROWS], dtype=pl.Int32),
        "ratio": pl.Series([r["ratio"] for r in ROWS], dtype=pl.Float32),
        "amount": pl.Series([r["amount"] for r in ROWS], dtype=pl.Float64),
        "name": pl.Series([r["name"] for r in ROWS], dtype=pl.Categorical if categorical else pl.String),
        "at": pl.Series([r["at"] for r in ROWS], dtype=pl.Datetime(unit, "UTC")),
    })
    at = pl.col("at")
    if zone is None:
        frame = frame.with_columns(at.dt.replace_time_zone(None))
    elif zone != "UTC":
        frame = frame.with_columns(at.dt.convert_time_zone(zone))
    return frame


def duckdb_parquet(path, zone):
    """DuckDB's TIMESTAMPTZ (UTC, µs) or TIMESTAMP (no zone)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    frame = arrow_table("us", "UTC")
    con.register("rows", frame)
    cast = "TIMESTAMPTZ" if zone else "TIMESTAMP"
    con.execute(
        f'COPY (SELECT "id", "flag", "count", "small", "ratio", "amount", "name", '
        f'"at"::{cast} AS "at" FROM rows ORDER BY "id") TO \'{path}\' (FORMAT parquet)'
    )


# (writer, unit, zone, strings) -> a typed file; every tool with its defaults.
def typed_files(tmp):
    files = []
    for unit in ["s", "ms", "us", "ns"]:
        for zone in ["UTC", "America/New_York", "+01:00", None]:
            key = f"{unit}-{(zone or 'naive').replace('/', '_').replace(':', '')}"
            path = tmp / f"pandas-{key}.parquet"
            pandas_frame(unit, zone).to_parquet(path)
            files.append((path, unit, zone))
            path = tmp / f"pyarrow-{key}.parquet"
            pq.write_table(arrow_table(unit, zone), path)
            files.append((path, unit, zone))
            if unit != "s" and zone != "+01:00":  # polars has neither
                path = tmp / f"polars-{key}.parquet"
                polars_frame(unit, zone).write_parquet(path)
                files.append((path, unit, zone))
    for strings, label in [(pa.large_string(), "large"), (pa.string_view(), "view"),
                           (pa.dictionary(pa.int32(), pa.string()), "dictionary")]:
        table = arrow_table("us", "UTC", strings)
        path = tmp / f"pyarrow-strings-{label}.parquet"
        pq.write_table(table, path)
        files.append((path, "us", "UTC"))
        path = tmp / f"pyarrow-strings-{label}.arrow"
        with ipc.new_file(path, table.schema) as out:
            out.write_table(table)
        files.append((path, "us", "UTC"))
        path = tmp / f"pyarrow-strings-{label}-stream.arrow"
        with ipc.new_stream(path, table.schema) as out:
            out.write_table(table)
        files.append((path, "us", "UTC"))
    frame = pandas_frame("ns", "UTC").assign(name=lambda f: f["name"].astype("category"))
    path = tmp / "pandas-categorical.parquet"
    frame.to_parquet(path)
    files.append((path, "ns", "UTC"))
    path = tmp / "pandas.feather"
    feather.write_feather(pandas_frame("ns", "UTC"), path)
    files.append((path, "ns", "UTC"))
    for categorical in [False, True]:
        frame = polars_frame("us", "UTC", categorical)
        label = "categorical" if categorical else "strings"
        path = tmp / f"polars-{label}.arrow"  # polars' IPC default: string_view
        frame.write_ipc(path)
        files.append((path, "us", "UTC"))
        path = tmp / f"polars-{label}.parquet"
        frame.write_parquet(path)
        files.append((path, "us", "UTC"))
    for zone in ["UTC", None]:
        path = tmp / f"duckdb-{zone or 'naive'}.parquet"
        duckdb_parquet(path, zone)
        files.append((path, "us", zone))
    return files


# ---------------------------------------------------------------- reading back


def comparable(table, names):
    """Columns of a pyarrow table as lists of comparable values (float bits,
    timestamps as their integers)."""
    out = {}
    for name in names:
        column = table.column(name).combine_chunks()
        kind = column.type
        if pa.types.is_dictionary(kind):
            out[name] = column.to_pylist()  # categories: strings
        elif pa.types.is_float32(kind):
            out[name] = column.view(pa.uint32()).to_pylist()
        elif pa.types.is_float64(kind):
            out[name] = column.view(pa.uint64()).to_pylist()
        elif pa.types.is_timestamp(kind):
            out[name] = column.view(pa.int64()).to_pylist()
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
            out[name] = column.cast(pa.string()).to_pylist()
        else:
            out[name] = column.to_pylist()
    return out


def rows_of(columns):
    names = list(columns)
    return [dict(zip(names, values)) for values in zip(*columns.values())]


def read_text_value(text, kind):
    """A value of an Arrow type read from skewless's text form (see the
    README's value rules), as `comparable` gives it."""
    if text is None:
        return None
    if pa.types.is_boolean(kind):
        return {"true": True, "false": False}[text]
    if pa.types.is_integer(kind):
        return int(text)
    if pa.types.is_floating(kind):
        wide = pa.types.is_float64(kind)
        special = {"NaN": (0x7FF8 << 48) if wide else 0x7FC00000,
                   "-NaN": (0xFFF8 << 48) if wide else 0xFFC00000}
        if text in special:
            return special[text]
        if text.startswith("NaN:0x"):
            return int(text[6:], 16)
        value = {"Infinity": INF, "-Infinity": -INF}.get(text)
        value = float(text) if value is None else value
        return f64_bits(value) if wide else f32_bits(value)
    if pa.types.is_timestamp(kind):
        zoned = kind.tz is not None
        assert text.endswith("Z") == zoned, (text, kind)
        body = text.rstrip("Z")
        date, _, clock = body.partition("T")
        whole, _, fraction = clock.partition(".")
        digits = {"s": 0, "ms": 3, "us": 6, "ns": 9}[kind.unit]
        assert len(fraction) == digits, (text, kind)
        seconds = dt.datetime.fromisoformat(f"{date}T{whole}+00:00").timestamp()
        scale = 10 ** digits
        return int(seconds) * scale + (int(fraction) if fraction else 0)
    return text


def read_back(path, kinds):
    """An output file of skewless, read back as comparable columns: typed
    formats by pyarrow, text formats by the documented text forms."""
    suffix = Path(path).suffix
    if suffix == ".parquet":
        return comparable(pq.read_table(path), kinds), pq.read_schema(path)
    if suffix == ".arrow":
        table = ipc.open_file(path).read_all()
        return comparable(table, kinds), table.schema
    if suffix == ".jsonl":
        rows = [json.loads(line) for line in Path(path).read_text().splitlines()]
        # JSON numbers are exact text too: read them back as text.
        lines = Path(path).read_text().splitlines()
        raw = [json.loads(line, parse_float=str, parse_int=str) for line in lines]
        columns = {
            name: [read_text_value(None if row[name] is None else
                                   (str(row[name]).lower() if isinstance(row[name], bool) else row[name]),
                                   kind)
                   for row in raw]
            for name, kind in kinds.items()
        }
        del rows
        return columns, None
    if suffix == ".csv":
        options = pacsv.ConvertOptions(
            column_types={name: pa.string() for name in kinds},
            null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False,
        )
        table = pacsv.read_csv(path, convert_options=options)
        return {name: [read_text_value(v, kind) for v in table.column(name).to_pylist()]
                for name, kind in kinds.items()}, None
    raise ValueError(path)


def canonical_kept(column, kind):
    """A kept column as the output must hold it: the input's own values."""
    return column


# ---------------------------------------------------------------- the test


OUTPUTS = [".parquet", ".arrow", ".csv", ".jsonl"]
SEEN = {"seen_id": pa.int64(), "seen_flag": pa.bool_(), "seen_count": pa.int64(),
        "seen_small": pa.int32(), "seen_ratio": pa.float32(), "seen_amount": pa.float64(),
        "seen_name": pa.string(), "seen_at": pa.timestamp("us", "+00:00")}


def layout_free(kind):
    """A type without its layout: string offsets (utf8, large, view) and
    dictionary encoding, which readers and writers choose differently for
    the same values (pyarrow reads a Parquet dictionary of large strings as
    one of strings; skewless writes dictionaries to Arrow IPC files as their
    values, as an IPC file holds only one dictionary per column)."""
    if pa.types.is_dictionary(kind):
        return layout_free(kind.value_type)
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return pa.string()
    return kind


def input_table(path):
    if path.suffix == ".parquet":
        return pq.read_table(path)
    try:
        return ipc.open_file(path).read_all()
    except pa.ArrowInvalid:
        return ipc.open_stream(path).read_all()


def check_typed_file(path, unit, zone, tmp):
    naive = [] if zone else ["--naive-timestamps", "utc"]
    table = input_table(path)
    kinds = {name: table.schema.field(name).type for name in COLUMNS}
    nan_is_null = path.name.startswith("pandas")  # pandas writes NaN as null
    want = expected(unit, nan_is_null)
    original = comparable(table, COLUMNS)
    keep = ",".join(COLUMNS)
    for suffix in OUTPUTS:
        out = tmp / f"{path.stem}-out{suffix}"
        skewless("run", ECHO, "--input", str(path), "--output", str(out), "--keep", keep, *naive)
        got, schema = read_back(out, {**kinds, **SEEN})
        seen = {name: got[name] for name in SEEN}
        assert rows_of(seen) == want, f"{path.name} -> {suffix}: the transform received other values"
        kept = {name: got[name] for name in COLUMNS}
        assert kept == original, f"{path.name} -> {suffix}: a kept column changed"
        if schema is not None:
            for name in COLUMNS:
                assert layout_free(schema.field(name).type) == layout_free(kinds[name]), \
                    (path.name, suffix, name)
    result = skewless("verify", ECHO, "--input", str(path), *naive)
    assert "OK:" in result.stdout, result.stdout
    result = skewless("inspect", str(path), "--rows", "6")
    assert "日本語 🎉" in result.stdout, result.stdout
    if zone is None:
        refused = skewless("run", ECHO, "--input", str(path), "--output", str(tmp / "x.parquet"),
                           ok=False)
        assert refused.stderr.strip().endswith(
            "which has no time zone; skewless does not guess which zone a timestamp without one "
            "is in; give it a zone where the data is written, or, if such timestamps are UTC, "
            "say so with the `naive_timestamps` setting (`utc`) (on the command line: "
            "`--naive-timestamps utc`)"
        ), refused.stderr
        assert "column `at` has type Timestamp(" in refused.stderr, refused.stderr
        assert not (tmp / "x.parquet").exists()


def test_typed_files_from_every_tool(tmp_path):
    files = typed_files(tmp_path)
    assert len(files) > 40
    failures = []
    for path, unit, zone in files:
        try:
            check_typed_file(path, unit, zone, tmp_path)
        except Exception as error:  # every file's failure, not just the first
            failures.append(f"{path.name}: {type(error).__name__}: {error}")
    assert not failures, "\n\n".join(failures)


def test_spark_int96_timestamps_are_refused_saying_what_spark_wrote(tmp_path):
    """Spark writes timestamps as Parquet INT96 by default: no zone in the
    file, instants in UTC for Spark. They are refused like any timestamp
    without a zone, saying so and what to do; said to be UTC, they are."""
    path = tmp_path / "spark-int96.parquet"
    pq.write_table(arrow_table("us", "UTC"), path, use_deprecated_int96_timestamps=True)
    assert pq.ParquetFile(path).schema.column(COLUMNS.index("at")).physical_type == "INT96"
    out = tmp_path / "out.parquet"
    refused = skewless("run", ECHO, "--input", str(path), "--output", str(out), ok=False)
    message = refused.stderr.strip()
    assert "column `at` holds INT96 timestamps, which carry no time zone: Spark writes" in message
    assert "spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS" in message
    assert message.endswith("(on the command line: `--naive-timestamps utc`)"), message
    assert not out.exists()
    skewless("run", ECHO, "--input", str(path), "--output", str(out),
             "--naive-timestamps", "utc")
    got, _ = read_back(out, SEEN)
    assert rows_of({name: got[name] for name in SEEN}) == expected("us")


def test_dictionaries_that_change_between_row_groups(tmp_path):
    """Each row group of a Parquet file can bring its own dictionary; every
    output must carry them all, whatever the batch size."""
    first = arrow_table("us", "UTC", pa.dictionary(pa.int32(), pa.string()))
    second = first.set_column(
        6, "name", pa.array([f"other {i}" for i in range(len(ROWS))]).dictionary_encode())
    path = tmp_path / "two-dictionaries.parquet"
    with pq.ParquetWriter(path, first.schema) as out:
        out.write_table(first)
        out.write_table(second)
    names = first.column("name").to_pylist() + second.column("name").to_pylist()
    for suffix in OUTPUTS:
        out = tmp_path / f"two-dictionaries-out{suffix}"
        skewless("run", ECHO, "--input", str(path), "--output", str(out), "--keep", "name",
                 "--batch-size", "4")
        got, _ = read_back(out, {"name": pa.string(), "seen_name": pa.string()})
        # An empty string is `""` in CSV, which pyarrow reads back as one.
        assert got["name"] == names, suffix
        assert got["seen_name"] == names, suffix


def text_files(tmp):
    """CSV and JSON Lines as each tool writes them by default (and pandas'
    JSON with ISO dates, its default being epoch milliseconds)."""
    files = []
    frame = pandas_frame("us", "UTC")
    frame.to_csv(tmp / "pandas.csv", index=False)
    files.append(tmp / "pandas.csv")
    pandas_frame("us", "America/New_York").to_csv(tmp / "pandas-new-york.csv", index=False)
    files.append(tmp / "pandas-new-york.csv")
    frame.to_json(tmp / "pandas.jsonl", orient="records", lines=True, date_format="iso",
                  date_unit="us")
    files.append(tmp / "pandas.jsonl")
    polars_frame("us", "UTC").write_csv(tmp / "polars.csv")
    files.append(tmp / "polars.csv")
    polars_frame("us", "UTC").write_ndjson(tmp / "polars.jsonl")
    files.append(tmp / "polars.jsonl")
    pacsv.write_csv(arrow_table("us", "UTC"), tmp / "pyarrow.csv")
    files.append(tmp / "pyarrow.csv")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("rows", arrow_table("us", "UTC"))
    con.execute(f"COPY (SELECT * FROM rows ORDER BY \"id\") TO '{tmp / 'duckdb.csv'}' (HEADER)")
    files.append(tmp / "duckdb.csv")
    return files


def test_text_files_from_every_tool(tmp_path):
    failures = []
    for path in text_files(tmp_path):
        # Text loses NaN where a tool writes it as an empty field or null.
        try:
            out = tmp_path / f"{path.stem}-{path.suffix[1:]}-out.parquet"
            skewless("run", ECHO, "--input", str(path), "--output", str(out))
            got = comparable(pq.read_table(out), SEEN)
            written = path.read_text()
            is_json = path.suffix == ".jsonl"
            want = expected(
                "us",
                nan_is_null=path.name.startswith("pandas") or is_json,
                empty_is_null=not is_json,
                inf_is_null=is_json,
                loses_negative_zero=is_json and path.name.startswith("pandas"),
            )
            for row, (seen, wanted) in enumerate(zip(rows_of(got), want)):
                assert seen == wanted, f"row {row}: the transform received other values"
            result = skewless("verify", ECHO, "--input", str(path))
            assert "OK:" in result.stdout, result.stdout
            skewless("inspect", str(path), "--rows", "6")
        except Exception as error:
            failures.append(f"{path.name}:\n{path.read_text()}\n{type(error).__name__}: {error}")
    assert not failures, "\n\n".join(failures)


def test_what_cannot_be_carried_is_refused_before_any_row(tmp_path):
    # pandas' default JSON dates are epoch milliseconds: a number is not a timestamp.
    path = tmp_path / "epoch.jsonl"
    pandas_frame("us", "UTC").to_json(path, orient="records", lines=True, date_format="epoch",
                                      date_unit="ms")
    refused = skewless("run", ECHO, "--input", str(path), "--output", str(tmp_path / "o.parquet"),
                       ok=False)
    assert "column `at`, row 0: \"1772410243123\" is a number, but a timestamp is an RFC 3339 " \
           "timestamp with a time zone" in refused.stderr, refused.stderr
    # A nanosecond that is not a whole microsecond.
    table = arrow_table("ns", "UTC")
    at = table.column("at").cast(pa.int64()).to_pylist()
    at[5] += 1
    table = table.set_column(7, "at", pa.array(at, pa.int64()).cast(pa.timestamp("ns", "UTC")))
    path = tmp_path / "nanos.parquet"
    pq.write_table(table, path)
    refused = skewless("run", ECHO, "--input", str(path), "--output", str(tmp_path / "o.parquet"),
                       ok=False)
    assert "column `at`, row 5: timestamp 2000-02-29T12:00:00.500000001Z has a fraction of a microsecond" \
        in refused.stderr, refused.stderr
    # pandas' integers with missing values, written without the Int64 dtype.
    frame = pandas_frame("us", "UTC").astype({"count": "float64"})
    path = tmp_path / "floats.parquet"
    frame.to_parquet(path)
    refused = skewless("run", ECHO, "--input", str(path), "--output", str(tmp_path / "o.parquet"),
                       ok=False)
    assert 'column `count` has type Float64, but transform `echo` takes int64' in refused.stderr
    assert 'df[column].astype("Int64")' in refused.stderr, refused.stderr
    frame.to_csv(tmp_path / "floats.csv", index=False)
    refused = skewless("run", ECHO, "--input", str(tmp_path / "floats.csv"),
                       "--output", str(tmp_path / "o.parquet"), ok=False)
    # The same words as for the same value in a JSON Lines file or a request.
    assert 'column `count`, row 0: 0.0 is not an integer (an integer column takes whole ' \
           'numbers written without a fraction or exponent); pandas writes an integer column ' \
           'that has missing values as floats' in refused.stderr, refused.stderr
    # A kept column a text output cannot hold: refused before any row.
    table = arrow_table("us", "UTC").append_column(
        "durations", pa.array([1] * len(ROWS), pa.duration("s")))
    pq.write_table(table, tmp_path / "durations.parquet")
    out = tmp_path / "o.csv"
    refused = skewless("run", ECHO, "--input", str(tmp_path / "durations.parquet"),
                       "--output", str(out), "--keep", "durations", ok=False)
    assert "column `durations` has type Duration(s), which has no exact text form, so a CSV " \
           "file cannot hold it; write .parquet or .arrow instead" in refused.stderr, refused.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".o.csv*")), "nothing left behind"


@pytest.fixture
def server():
    """`skewless serve` on the echo transform, on a free port."""
    cache = ["--cache-dir", CACHE] if CACHE else ["--no-cache"]
    process = subprocess.Popen(
        [SKEWLESS, "serve", ECHO, "--addr", "127.0.0.1:0", *cache],
        stderr=subprocess.PIPE, text=True,
    )
    try:
        for line in process.stderr:
            if line.startswith("listening on "):
                yield line.split()[-1] + "/v1/transforms/echo"
                break
        else:
            raise AssertionError("the server did not start")
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_requests_from_python_get_the_backfills_features(server, tmp_path):
    """Rows a data scientist sends with `requests`, from a pandas frame,
    are answered with the features a backfill of the same frame computes."""
    frame = pandas_frame("us", "UTC")
    rows = json.loads(frame.to_json(orient="records", date_format="iso", date_unit="us"))
    answer = requests.post(server, json={"rows": rows}, timeout=30)
    assert answer.status_code == 200, answer.text
    served = answer.json()["rows"]
    frame.to_parquet(tmp_path / "frame.parquet")
    skewless("run", ECHO, "--input", str(tmp_path / "frame.parquet"),
             "--output", str(tmp_path / "features.jsonl"))
    backfilled = [json.loads(line) for line in (tmp_path / "features.jsonl").read_text().splitlines()]
    # pandas' JSON loses -0.0 and writes infinities as null, as in its files.
    assert served[0] == backfilled[0]
    assert served[5] == backfilled[5]
    # What goes wrong from Python gets a 400 saying what to send instead.
    row = dict(rows[0])
    row["at"] = int(dt.datetime(2026, 3, 2, tzinfo=UTC).timestamp())  # time.time()
    answer = requests.post(server, json={"rows": [row]}, timeout=30)
    assert answer.status_code == 400
    assert "is a number, but a timestamp is an RFC 3339 timestamp" in answer.json()["error"]["message"]
    row["at"] = dt.datetime(2026, 3, 2, 0, 10).isoformat()  # no zone
    answer = requests.post(server, json={"rows": [row]}, timeout=30)
    assert (answer.status_code, answer.json()["error"]["kind"]) == (400, "naive_timestamp")
    row = dict(rows[0], amount=NAN)  # json.dumps writes a bare NaN
    answer = requests.post(server, data=json.dumps({"rows": [row]}), timeout=30)
    assert answer.status_code == 400
    assert "send them as the strings" in answer.json()["error"]["message"], answer.text


def test_a_small_file_that_decompresses_to_gigabytes_is_refused_unread(tmp_path):
    """A few kilobytes on disk can declare gigabytes (apache/parquet-testing's
    large_string_map.brotli.parquet: 4 KB, 2 GiB): refused from the file's
    metadata, before anything is decompressed, naming the column."""
    path = tmp_path / "bomb.parquet"
    table = pa.table({"id": pa.array([0], pa.int64()), "blob": pa.array(["a" * (300 << 20)])})
    pq.write_table(table, path, compression="zstd")
    del table
    assert path.stat().st_size < 1 << 20
    refused = skewless("inspect", str(path), "--rows", "1", ok=False)
    assert "column `blob` of row group 0 declares 300.0 MiB uncompressed for its 1 row (" \
        in refused.stderr, refused.stderr
    # The file's schema and provenance are still shown: they read no data.
    assert "rows" in skewless("inspect", str(path)).stdout
