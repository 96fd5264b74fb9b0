"""Fraud features from a notebook or a pipeline, with the skewless package.

    pip install ./bindings/python                    # once, from the repository
                                                     # (pandas and polars parts run if installed)
    bash scripts/demo.sh                             # builds fraud_features.wasm
    python examples/python-api/features.py

The same component `skewless serve` answers with computes the features of
the bundled transactions from pyarrow, pandas and polars; every result is
bit-identical, and the table records which transform made it.
"""

import sys
from pathlib import Path

import pyarrow.csv
import pyarrow.parquet as pq

import skewless

root = Path(__file__).resolve().parents[2]
component = root / "target/wasm32-wasip2/release/fraud_features.wasm"
data = root / "examples/fraud-features/data/transactions.csv"
if not component.is_file():
    sys.exit(f"{component} is missing: run `bash scripts/demo.sh` first")

t = skewless.load(component)
print(f"{t.name} {t.version} sha256 {t.sha256}")
print("inputs: ", ", ".join(f"{f.name} {f.type}" for f in t.inputs))
print("outputs:", ", ".join(f"{f.name} {f.type}" for f in t.outputs))

table = pyarrow.csv.read_csv(data)
features = t.transform(table, keep=["transaction_id", "is_fraud"])   # pyarrow in and out
print(features.slice(0, 5).to_string(preview_cols=8))

try:
    import pandas  # noqa: F401

    df = t.transform_pandas(table.to_pandas())                      # pandas in and out
    assert df["log_amount"].equals(features.column("log_amount").to_pandas())
except ImportError:
    pass
try:
    import polars as pl

    assert t.transform(pl.from_arrow(table)).equals(t.transform(table))  # polars in
except ImportError:
    pass

row = t.transform_row({"amount": 12.5, "hour": 3, "merchant_category": "travel"})
print("one row, as `skewless serve` answers it:", row)

out = root / "target/demo/fraud-features-python.parquet"
out.parent.mkdir(parents=True, exist_ok=True)
pq.write_table(features, out)
print(f"wrote {features.num_rows} rows to {out} (`skewless inspect` shows who made it)")
print(skewless.verify(t, data))
