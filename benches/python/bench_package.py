"""The Python package's costs, for the benchmark report (benches/src/bin/report.rs
runs this with the tests' venv python, alternating with its own Rust runs).

  --write-input FILE   writes the 1M-row transactions table the Rust side
                       reads too (row groups of 131,072 rows, so both sides
                       call the transform on the same 8,192-row slices)
  --mode transform     prints {"seconds": [...]}: `t.transform(table)` on the
                       table (read into memory first), once per --repeat
  --mode threads       prints {"one": [...], "four": [...]}: seconds for 4
                       transforms of the table by one thread, then by 4
                       threads sharing one Transform
"""

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def transactions(rows: int) -> pa.Table:
    rng = np.random.default_rng(7)
    categories = np.array(["grocery", "travel", "electronics", "gaming", "fuel", "dining"])
    return pa.table({
        "transaction_id": pa.array([f"tx_{i:08d}" for i in range(rows)]),
        "amount": pa.array(np.round(rng.lognormal(3.5, 1.2, rows), 2)),
        "hour": pa.array(rng.integers(0, 24, rows, dtype=np.int64)),
        "merchant_category": pa.array(categories[rng.integers(0, len(categories), rows)]),
    })


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--component")
    parser.add_argument("--input")
    parser.add_argument("--write-input")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--mode", choices=["transform", "threads"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse-instances", action="store_true",
                        help="keep instances warm between calls (to see what the clean slate costs)")
    args = parser.parse_args()
    if args.write_input:
        pq.write_table(transactions(args.rows), args.write_input, row_group_size=131_072)
        return

    import skewless

    t = skewless.load(args.component, reuse_instances=args.reuse_instances)
    table = pq.read_table(args.input, columns=["amount", "hour", "merchant_category"])
    t.transform(table.slice(0, 10_000))  # warm: the first instances, pages
    if args.mode == "transform":
        seconds = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            t.transform(table)
            seconds.append(time.perf_counter() - start)
        print(json.dumps({"seconds": seconds}))
    else:
        one, four = [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            for _ in range(4):
                t.transform(table)
            one.append(time.perf_counter() - start)
            start = time.perf_counter()
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda _: t.transform(table), range(4)))
            four.append(time.perf_counter() - start)
        print(json.dumps({"one": one, "four": four}))


if __name__ == "__main__":
    main()
