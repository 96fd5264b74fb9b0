"""Compare two feature files (Parquet, same rows in the same order) by bits,
feature by feature: how many rows differ, and how (duckdb_pandas.classify:
null vs value, 1 ulp, 2-16 ulps, ...). The first file is the expected one.

    python compare.py skewless.parquet duckdb.parquet
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from duckdb_pandas import FEATURES, classify  # noqa: E402


def bits_and_valid(col: pa.ChunkedArray):
    col = col.combine_chunks()
    valid = np.ones(len(col), bool) if col.null_count == 0 else \
        np.asarray(col.is_valid().to_numpy(zero_copy_only=False))
    if pa.types.is_floating(col.type):
        values = np.asarray(col.fill_null(0.0).to_numpy()).astype(np.float64).view(np.uint64)
    else:
        values = np.asarray(col.fill_null(0).to_numpy()).astype(np.int64)
    return values, valid


def compare(expected: pa.Table, actual: pa.Table) -> dict:
    out = {}
    if expected.num_rows != actual.num_rows:
        raise SystemExit(f"row counts differ: {expected.num_rows} vs {actual.num_rows}")
    for f in FEATURES:
        if f not in expected.column_names or f not in actual.column_names:
            out[f] = {"missing": 1}
            continue
        ev, evalid = bits_and_valid(expected.column(f))
        av, avalid = bits_and_valid(actual.column(f))
        differ = (evalid != avalid) | (evalid & avalid & (ev != av))
        rows = np.flatnonzero(differ)
        kinds: dict = {}
        e = expected.column(f).take(pa.array(rows)).to_pylist()
        a = actual.column(f).take(pa.array(rows)).to_pylist()
        for x, y in zip(e, a):
            if isinstance(x, float) and isinstance(y, int):
                y = float(y)
            k = classify(x, y) or "same value, other type"
            kinds[k] = kinds.get(k, 0) + 1
        out[f] = kinds
    return out


def main(argv=None) -> None:
    argv = argv if argv is not None else sys.argv[1:]
    expected, actual = pq.read_table(argv[0]), pq.read_table(argv[1])
    n = expected.num_rows
    print(f"{argv[1]} against {argv[0]} ({n} rows): rows whose bits differ, by feature")
    for f, kinds in compare(expected, actual).items():
        total = sum(kinds.values())
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))
        print(f"  {f:24s} {total:8d}  ({100 * total / n:.3f}%)  {detail}")


if __name__ == "__main__":
    main()
