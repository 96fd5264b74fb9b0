"""The Python `fraud-features` transform's user function run by native
CPython over 65,536 rows: the baseline a Python transform compiled to
WebAssembly is measured against in the report's Python section.

A plain loop, as a data scientist would write it without skewless: call
the function on each row of the bundled sample transactions (repeated to
`--rows`) and build the four output lists. Prints JSON: rows, the median
seconds of `--runs` passes, rows/s.

    python benches/python/native_loop.py --rows 65536 --runs 5
"""

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "guest-sdk-python"), str(ROOT / "examples/fraud-features-py")]

from fraud_features import fraud  # noqa: E402  (the example's own function)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=65_536)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with open(ROOT / "examples/fraud-features/data/transactions.csv", newline="") as f:
        sample = [
            (float(r["amount"]), int(r["hour"]), r["merchant_category"]) for r in csv.DictReader(f)
        ]
    rows = [sample[i % len(sample)] for i in range(args.rows)]
    amounts = [r[0] for r in rows]
    hours = [r[1] for r in rows]
    categories = [r[2] for r in rows]

    def run() -> float:
        started = time.perf_counter()
        log_amount, is_night, amount_bucket, category_risk = [], [], [], []
        for amount, hour, category in zip(amounts, hours, categories):
            features = fraud(amount, hour, category)
            log_amount.append(features.log_amount)
            is_night.append(features.is_night)
            amount_bucket.append(features.amount_bucket)
            category_risk.append(features.category_risk)
        return time.perf_counter() - started

    run()
    seconds = statistics.median(run() for _ in range(args.runs))
    print(json.dumps({"rows": args.rows, "seconds": seconds, "rows_per_second": args.rows / seconds}))


if __name__ == "__main__":
    main()
