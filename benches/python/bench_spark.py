"""Backfills of one generated Parquet file of transactions (10M rows by
default) three ways, alternated run by run, for the benchmark report:

- `skewless run` (the CLI, all cores of this machine);
- Spark (`local[N]`) with `skewless.spark.transform`;
- Spark with a pandas UDF (`mapInPandas`) computing the same features in
  numpy/pandas, as Feast's and Hopsworks' Spark backfills run them.

Writes medians and every run to --out (JSON), and how many rows of the
pandas UDF's features differ from skewless's by their bits (train/serve
skew if one were used offline and the other online).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

EDGES = np.array([10.0, 50.0, 100.0, 500.0, 1000.0])
RISK = {"grocery": 0.1, "travel": 0.7, "electronics": 0.5, "gaming": 0.8}


def generate(path: Path, rows: int) -> None:
    rng = np.random.default_rng(11)
    categories = np.array(["grocery", "travel", "electronics", "gaming", "fuel", "dining"])
    writer = None
    chunk = 1_000_000
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        table = pa.table({
            "transaction_id": pa.array(np.arange(start, start + n, dtype=np.int64)),
            "amount": pa.array(np.round(rng.lognormal(3.5, 1.2, n), 2)),
            "hour": pa.array(rng.integers(0, 24, n, dtype=np.int64)),
            "merchant_category": pa.array(categories[rng.integers(0, len(categories), n)]),
        })
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=250_000)
    writer.close()


def fraud_pandas(frames):
    """The fraud features in pandas/numpy (examples/fraud-features, by hand)."""
    import pandas as pd

    for pdf in frames:
        amount = pdf["amount"].to_numpy()
        hour = pdf["hour"].to_numpy()
        yield pd.DataFrame({
            "transaction_id": pdf["transaction_id"],
            "log_amount": np.log(1.0 + amount),
            "is_night": ((hour < 6) | (hour >= 22)).astype(np.int64),
            "amount_bucket": np.searchsorted(EDGES, amount, side="right").astype(np.int64),
            "category_risk": pdf["merchant_category"].map(RISK).fillna(0.3).astype(np.float64),
        })


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skewless", required=True)
    parser.add_argument("--component", required=True)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    import skewless
    import skewless.spark

    work = Path(tempfile.mkdtemp(prefix="skewless-spark-bench-"))
    try:
        source = work / "transactions.parquet"
        print(f"generating {args.rows} rows into {source}", file=sys.stderr)
        generate(source, args.rows)
        spark = (
            SparkSession.builder.master(f"local[{args.cores}]")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", "4g")
            # Timestamps before 1900 in files not written by Spark (the edge cases)
            # are read as written (proleptic Gregorian), not refused.
            .config("spark.sql.parquet.datetimeRebaseModeInRead", "CORRECTED")
            .config("spark.sql.parquet.datetimeRebaseModeInWrite", "CORRECTED")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        t = skewless.load(args.component)
        df = spark.read.parquet(str(source))
        out_schema = "transaction_id long, log_amount double, is_night long, amount_bucket long, category_risk double"

        def cli():
            subprocess.run([args.skewless, "run", args.component, "--input", str(source),
                            "--output", str(work / "cli.parquet"), "--keep", "transaction_id"],
                           check=True, capture_output=True)

        def spark_skewless():
            skewless.spark.transform(df, t, keep=["transaction_id"]).write.mode("overwrite").parquet(
                str(work / "spark-skewless"))

        def spark_pandas():
            df.mapInPandas(fraud_pandas, out_schema).write.mode("overwrite").parquet(
                str(work / "spark-pandas"))

        ways = {"skewless run": cli, "Spark + skewless": spark_skewless, "Spark + pandas UDF": spark_pandas}
        times = {name: [] for name in ways}
        for run in range(args.runs + 1):  # the first round warms the JVM and the caches
            for name, way in ways.items():
                start = time.perf_counter()
                way()
                elapsed = time.perf_counter() - start
                if run > 0:
                    times[name].append(elapsed)
                print(f"run {run} {name}: {elapsed:.2f} s", file=sys.stderr)

        # Do the three agree? skewless's two paths by bits; the pandas UDF's
        # log_amount by bits too (numpy's log is not wasi-libc's).
        cli_out = pq.read_table(work / "cli.parquet").sort_by("transaction_id")
        spark_out = pq.read_table(work / "spark-skewless").sort_by("transaction_id")
        pandas_out = pq.read_table(work / "spark-pandas").sort_by("transaction_id")

        def differing(a, b, column):
            x, y = a.column(column).combine_chunks(), b.column(column).combine_chunks()
            if pa.types.is_floating(x.type):
                x, y = x.view(pa.int64()), y.view(pa.int64())
            return int(pc.sum(pc.not_equal(x, y).cast(pa.int64())).as_py() or 0)

        features = ["log_amount", "is_night", "amount_bucket", "category_risk"]
        result = {
            "rows": args.rows,
            "cores": args.cores,
            "runs": args.runs,
            "seconds": times,
            "median_seconds": {name: statistics.median(v) for name, v in times.items()},
            "spark_skewless_rows_differing_from_cli": {c: differing(cli_out, spark_out, c) for c in features},
            "pandas_udf_rows_differing_from_cli": {c: differing(cli_out, pandas_out, c) for c in features},
            "versions": {"pyspark": spark.version, "python": sys.version.split()[0]},
        }
        spark.stop()
        Path(args.out).write_text(json.dumps(result, indent=2))
        print(json.dumps(result["median_seconds"]), file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
