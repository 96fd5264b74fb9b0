"""The contract 0.2 types as users' tools write them: the order-features
example (a date, DECIMAL(18,2) money, a 768-float embedding) from files
written by pyarrow, pandas, polars and DuckDB, and from Spark, against
`skewless run` on the bundled JSON Lines, bit for bit."""

from __future__ import annotations

import datetime
import decimal
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import skewless
from conftest import assert_same_bits, cli

SCHEMA = pa.schema([
    ("order_id", pa.string()),
    ("order_date", pa.date32()),
    ("signup_date", pa.date32()),
    ("amount", pa.decimal128(18, 2)),
    ("discount", pa.decimal128(18, 2)),
    ("item_embedding", pa.list_(pa.float32(), 768)),
])


@pytest.fixture(scope="module")
def orders(examples, tmp_path_factory):
    """(example, the bundled rows as Python values, the CLI's features)."""
    example = examples["order-features"]
    rows = []
    with open(example["data"]) as f:
        for line in f:
            row = json.loads(line)
            date = datetime.date.fromisoformat
            rows.append({
                "order_id": row["order_id"],
                "order_date": date(row["order_date"]),
                "signup_date": row["signup_date"] and date(row["signup_date"]),
                "amount": decimal.Decimal(row["amount"]),
                "discount": row["discount"] and decimal.Decimal(row["discount"]),
                "item_embedding": row["item_embedding"],
            })
    out = tmp_path_factory.mktemp("orders") / "cli.parquet"
    cli("run", example["component"], "--input", example["data"], "--output", str(out),
        "--keep", "order_id", "--quiet")
    return example, rows, pq.read_table(out)


def assert_same_features(expected, got):
    """The same rows (by the kept id, whatever string layout the tool
    chose for it) and the same feature bits."""
    assert got["order_id"].to_pylist() == expected["order_id"].to_pylist()
    assert_same_bits(expected.drop_columns(["order_id"]), got.drop_columns(["order_id"]))


def run_file(example, path, tmp_path):
    out = tmp_path / f"{path.stem}-features.parquet"
    cli("run", example["component"], "--input", str(path), "--output", str(out),
        "--keep", "order_id", "--quiet")
    return pq.read_table(out)


def test_money_is_exact_and_the_declaration_is_what_the_sdk_says(orders):
    example, rows, expected = orders
    t = skewless.load(example["component"])
    types = {f.name: f.type for f in t.inputs}
    assert types == {"order_date": "date", "signup_date": "date", "amount": "decimal(18,2)",
                     "discount": "decimal(18,2)", "item_embedding": "fixed-size-list<float32, 768>"}
    net = expected["net_amount"].to_pylist()
    cents = expected["net_amount_cents"].to_pylist()
    for row, n, c in zip(rows, net, cents):
        want = row["amount"] - (row["discount"] or 0)
        assert n == want and c == int(want * 100), (row["order_id"], n, want)


def test_pyarrow_table_in_memory(orders):
    example, rows, expected = orders
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    got = skewless.load(example["component"]).transform(table, keep=["order_id"])
    assert_same_bits(expected, got)


def test_pandas_written_parquet(orders, tmp_path):
    import numpy as np
    import pandas as pd

    example, rows, expected = orders
    df = pd.DataFrame(rows)
    # pandas holds Decimal and date objects as `object`; embeddings as
    # arrays, float32 as the column is declared (float64 would be refused).
    df["item_embedding"] = df["item_embedding"].map(lambda v: np.asarray(v, dtype=np.float32))
    path = tmp_path / "pandas.parquet"
    df.to_parquet(path, index=False)
    assert_same_features(expected, run_file(example, path, tmp_path))


def test_polars_written_parquet(orders, tmp_path):
    import polars as pl

    example, rows, expected = orders
    df = pl.DataFrame(rows, schema={
        "order_id": pl.String, "order_date": pl.Date, "signup_date": pl.Date,
        "amount": pl.Decimal(18, 2), "discount": pl.Decimal(18, 2),
        "item_embedding": pl.Array(pl.Float32, 768),
    })
    path = tmp_path / "polars.parquet"
    df.write_parquet(path)
    assert_same_features(expected, run_file(example, path, tmp_path))


def test_duckdb_written_parquet(orders, tmp_path):
    import duckdb

    example, rows, expected = orders
    path = tmp_path / "duckdb.parquet"
    duckdb.sql(f"""
        COPY (SELECT order_id,
                     CAST(order_date AS DATE) AS order_date,
                     CAST(signup_date AS DATE) AS signup_date,
                     CAST(amount AS DECIMAL(18, 2)) AS amount,
                     CAST(discount AS DECIMAL(18, 2)) AS discount,
                     CAST(item_embedding AS FLOAT[768]) AS item_embedding
              FROM read_json('{example["data"]}', format = 'newline_delimited',
                   columns = {{order_id: 'VARCHAR', order_date: 'VARCHAR', signup_date: 'VARCHAR',
                              amount: 'VARCHAR', discount: 'VARCHAR', item_embedding: 'DOUBLE[]'}}))
        TO '{path}' (FORMAT PARQUET)""")
    assert_same_features(expected, run_file(example, path, tmp_path))


def test_a_float64_embedding_is_refused_naming_the_column(orders, tmp_path):
    example, rows, _ = orders
    schema = SCHEMA.set(SCHEMA.get_field_index("item_embedding"),
                        pa.field("item_embedding", pa.list_(pa.float64())))
    table = pa.Table.from_pylist(rows, schema=schema)
    with pytest.raises(skewless.BadInput, match="item_embedding"):
        skewless.load(example["component"]).transform(table)
