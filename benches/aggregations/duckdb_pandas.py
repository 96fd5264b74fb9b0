"""The card-velocity features computed by DuckDB and by pandas, for comparison
with skewless (speed) and with the exact reference (bits).

    python duckdb_pandas.py --events E.parquet --spine S.parquet --engine duckdb --out F.parquet
    python duckdb_pandas.py ... --engine pandas --out F.parquet
    python duckdb_pandas.py ... --engine duckdb --check      # compare with the reference
    python duckdb_pandas.py ... --engine all --check         # every engine

Engines:

- `duckdb`: a range join of spine rows to events on card_id and
  t - 7d <= ts < t (integer microseconds), conditional aggregates
  (`FILTER (WHERE ...)`) for the 1h and 24h windows, `GROUP BY` the spine
  row id. What a careful SQL writer writes.
- `duckdb-fsum`: the same join with `fsum`/`favg` (compensated sums)
  instead of `sum`/`avg`.
- `duckdb-window`: the other SQL idiom: spine rows and events in one
  relation, window aggregates with `RANGE BETWEEN w PRECEDING AND 1
  PRECEDING` (the strict right edge, in microseconds) per card. Avoids the
  join's blow-up on busy cards.
- `pandas`: what a data scientist writes: merge the spine with the events
  on card_id, mask by time, groupby the spine row.
- `reference`: the naive exact reference (host/tests/aggregations), slow.

Times are compared as integer microseconds (`epoch_us`) in DuckDB: interval
arithmetic on TIMESTAMPTZ follows the session's time zone (a "7 days"
interval across a DST change is 167 or 169 hours), a trap for the unwary.

Prints the wall time (reading + computing + writing, and computing alone)
and the peak RSS (`resource.getrusage`, the whole process).
"""

from __future__ import annotations

import argparse
import math
import resource
import struct
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
REFERENCE_DIR = HERE.parent.parent / "host" / "tests" / "aggregations"

HOUR = 3_600_000_000
DAY = 24 * HOUR
WEEK = 7 * DAY

FEATURES = [
    "tx_count_1h", "tx_count_24h", "amount_sum_24h", "amount_mean_7d", "amount_max_7d",
    "distinct_merchants_24h", "declined_count_24h", "seconds_since_last_tx",
    "amount_over_mean_7d",
]
INT_FEATURES = {"tx_count_1h", "tx_count_24h", "distinct_merchants_24h", "declined_count_24h"}
SCHEMA = pa.schema([
    pa.field(f, pa.int64() if f in INT_FEATURES else pa.float64()) for f in FEATURES
])


# ---------------------------------------------------------------------------
# DuckDB
# ---------------------------------------------------------------------------

JOIN_SQL = f"""
WITH s AS (
    SELECT rid, card_id, epoch_us(ts) AS t, amount FROM spine
), e AS (
    SELECT card_id, epoch_us(ts) AS et, amount, merchant, declined FROM events
), agg AS (
    SELECT
        s.rid,
        count(e.et) FILTER (WHERE e.et >= s.t - {HOUR}) AS tx_count_1h,
        count(e.et) FILTER (WHERE e.et >= s.t - {DAY}) AS tx_count_24h,
        coalesce(sum(e.amount) FILTER (WHERE e.et >= s.t - {DAY}), 0.0) AS amount_sum_24h,
        avg(e.amount) AS amount_mean_7d,
        max(e.amount) AS amount_max_7d,
        count(DISTINCT e.merchant) FILTER (WHERE e.et >= s.t - {DAY}) AS distinct_merchants_24h,
        count(e.et) FILTER (WHERE e.et >= s.t - {DAY} AND e.declined) AS declined_count_24h,
        CAST(any_value(s.t) - max(e.et) AS DOUBLE) / CAST(1000000 AS DOUBLE)
            AS seconds_since_last_tx
    FROM s
    LEFT JOIN e
        ON e.card_id = s.card_id AND e.et >= s.t - {WEEK} AND e.et < s.t
    GROUP BY s.rid
)
SELECT
    agg.* EXCLUDE (rid),
    s.amount / agg.amount_mean_7d AS amount_over_mean_7d
FROM agg JOIN s USING (rid)
ORDER BY rid
"""

# The same with DuckDB's compensated (Kahan-Babuska) sum and mean: what one
# writes after noticing that `sum` depends on the order rows arrive in.
FSUM_SQL = JOIN_SQL.replace("sum(e.amount)", "fsum(e.amount)").replace(
    "avg(e.amount)", "favg(e.amount)")

WINDOW_SQL = f"""
WITH u AS (
    SELECT card_id, epoch_us(ts) AS t, amount, merchant, declined,
           1 AS ev, NULL::BIGINT AS rid, NULL::DOUBLE AS request_amount
    FROM events
    UNION ALL
    SELECT card_id, epoch_us(ts), NULL, NULL, NULL, NULL, rid, amount
    FROM spine
), w AS (
    SELECT
        rid, request_amount,
        count(ev) OVER h1 AS tx_count_1h,
        count(ev) OVER d1 AS tx_count_24h,
        coalesce(sum(amount) OVER d1, 0.0) AS amount_sum_24h,
        avg(amount) OVER w7 AS amount_mean_7d,
        max(amount) OVER w7 AS amount_max_7d,
        count(DISTINCT merchant) OVER d1 AS distinct_merchants_24h,
        count(ev) FILTER (WHERE declined) OVER d1 AS declined_count_24h,
        CAST(t - max(CASE WHEN ev = 1 THEN t END) OVER w7 AS DOUBLE) / CAST(1000000 AS DOUBLE)
            AS seconds_since_last_tx
    FROM u
    WINDOW
        h1 AS (PARTITION BY card_id ORDER BY t RANGE BETWEEN {HOUR} PRECEDING AND 1 PRECEDING),
        d1 AS (PARTITION BY card_id ORDER BY t RANGE BETWEEN {DAY} PRECEDING AND 1 PRECEDING),
        w7 AS (PARTITION BY card_id ORDER BY t RANGE BETWEEN {WEEK} PRECEDING AND 1 PRECEDING)
    QUALIFY rid IS NOT NULL
)
SELECT
    w.* EXCLUDE (rid, request_amount),
    request_amount / amount_mean_7d AS amount_over_mean_7d
FROM w
ORDER BY rid
"""


def with_row_ids(spine: pa.Table) -> pa.Table:
    return spine.append_column("rid", pa.array(range(spine.num_rows), pa.int64()))


def run_duckdb(events: pa.Table, spine: pa.Table, sql: str, threads=None) -> pa.Table:
    import duckdb

    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.register("events", events)
    con.register("spine", with_row_ids(spine))
    result = con.sql(sql)
    if hasattr(result, "to_arrow_table"):
        table = result.to_arrow_table()
    else:  # older DuckDB
        table = result.fetch_arrow_table()
    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    con.close()
    return table.select(FEATURES).cast(SCHEMA)


# ---------------------------------------------------------------------------
# pandas
# ---------------------------------------------------------------------------


def run_pandas(events: pa.Table, spine: pa.Table) -> pa.Table:
    """The way it is usually written: merge, mask, groupby."""
    import pandas as pd

    ev = events.to_pandas()
    sp = spine.to_pandas()
    sp["rid"] = range(len(sp))

    m = sp[["rid", "card_id", "ts"]].merge(
        ev.rename(columns={"ts": "ts_ev"}), on="card_id", how="inner")
    m = m[(m["ts_ev"] >= m["ts"] - pd.Timedelta(days=7)) & (m["ts_ev"] < m["ts"])]
    d = m[m["ts_ev"] >= m["ts"] - pd.Timedelta(hours=24)]
    h = m[m["ts_ev"] >= m["ts"] - pd.Timedelta(hours=1)]

    out = pd.DataFrame(index=pd.Index(sp["rid"], name="rid"))
    out["tx_count_1h"] = h.groupby("rid").size()
    out["tx_count_24h"] = d.groupby("rid").size()
    out["amount_sum_24h"] = d.groupby("rid")["amount"].sum()
    week = m.groupby("rid")
    out["amount_mean_7d"] = week["amount"].mean()
    out["amount_max_7d"] = week["amount"].max()
    out["distinct_merchants_24h"] = d.groupby("rid")["merchant"].nunique()
    out["declined_count_24h"] = d[d["declined"] == True].groupby("rid").size()  # noqa: E712
    last = week["ts_ev"].max()
    out["seconds_since_last_tx"] = (sp.set_index("rid")["ts"] - last).dt.total_seconds()
    for c in ["tx_count_1h", "tx_count_24h", "distinct_merchants_24h", "declined_count_24h"]:
        out[c] = out[c].fillna(0).astype("int64")
    out["amount_sum_24h"] = out["amount_sum_24h"].fillna(0.0)
    out["amount_over_mean_7d"] = sp.set_index("rid")["amount"] / out["amount_mean_7d"]
    out = out.reset_index(drop=True)[FEATURES]
    # What `out.to_parquet()` writes: pyarrow turns NaN into null.
    return pa.Table.from_pandas(out, preserve_index=False).cast(SCHEMA)


# ---------------------------------------------------------------------------
# The reference
# ---------------------------------------------------------------------------


def _import_reference():
    sys.path.insert(0, str(REFERENCE_DIR))
    import generate  # noqa: F401
    import reference

    return generate, reference


def run_reference(events: pa.Table, spine: pa.Table) -> pa.Table:
    generate, reference = _import_reference()
    rows = reference.card_velocity(_rows(events), _rows(spine))
    return pa.table({f: [r[f] for r in rows] for f in FEATURES}, schema=SCHEMA)


def _rows(table: pa.Table) -> list[dict]:
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.timestamp("us", tz=col.type.tz)).cast(pa.int64())
        cols[name] = col.to_pylist()
    return [{n: cols[n][i] for n in table.column_names} for i in range(table.num_rows)]


ENGINES = {
    "duckdb": lambda ev, sp, threads: run_duckdb(ev, sp, JOIN_SQL, threads),
    "duckdb-fsum": lambda ev, sp, threads: run_duckdb(ev, sp, FSUM_SQL, threads),
    "duckdb-window": lambda ev, sp, threads: run_duckdb(ev, sp, WINDOW_SQL, threads),
    "pandas": lambda ev, sp, threads: run_pandas(ev, sp),
    "reference": lambda ev, sp, threads: run_reference(ev, sp),
}


# ---------------------------------------------------------------------------
# Comparing with the reference
# ---------------------------------------------------------------------------


def _bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _ordered(x: float) -> int:
    b = struct.unpack("<q", struct.pack("<d", x))[0]
    return b ^ 0x7FFFFFFFFFFFFFFF if b < 0 else b


def classify(expected, actual) -> str | None:
    """None when the same (by bits); else what kind of difference."""
    if expected is None or actual is None:
        if expected is None and actual is None:
            return None
        if expected is None:
            return "value where null"
        return "null where NaN" if math.isnan(expected) else "null where value"
    if isinstance(expected, int):
        return None if expected == actual else "count"
    if _bits(expected) == _bits(actual):
        return None
    if math.isnan(expected) and math.isnan(actual):
        return "NaN bits"
    if math.isnan(expected) or math.isnan(actual):
        return "NaN vs number"
    if math.isinf(expected) or math.isinf(actual):
        return "inf vs finite" if math.isinf(expected) != math.isinf(actual) else "inf sign"
    if expected == actual:
        return "sign of zero"
    ulps = abs(_ordered(expected) - _ordered(actual))
    if ulps == 1:
        return "1 ulp"
    if ulps <= 16:
        return "2-16 ulps"
    return ">16 ulps"


def compare_tables(expected: pa.Table, actual: pa.Table):
    per_feature = {}
    bad_rows = {}
    for f in FEATURES:
        e = expected.column(f).to_pylist()
        a = actual.column(f).to_pylist()
        kinds = {}
        rows = []
        for i, (x, y) in enumerate(zip(e, a)):
            k = classify(x, y)
            if k is not None:
                kinds[k] = kinds.get(k, 0) + 1
                rows.append(i)
        per_feature[f] = kinds
        bad_rows[f] = rows
    return per_feature, bad_rows


def edge_rows(events: pa.Table, spine: pa.Table) -> dict:
    """Spine rows with an event of their card exactly at t, or at t - W,
    or a microsecond either side: the rows where the window edges matter."""
    ev = _rows(events.select(["card_id", "ts"]))
    at = {(e["card_id"], e["ts"]) for e in ev}
    sp = _rows(spine.select(["card_id", "ts"]))
    out = {}
    for name, delta in [("at t", 0), ("at t-1h", HOUR), ("at t-24h", DAY), ("at t-7d", WEEK)]:
        for off in [-1, 0, 1]:
            label = name + ("" if off == 0 else f"{off:+d}us")
            out[label] = {i for i, s in enumerate(sp)
                          if (s["card_id"], s["ts"] - delta + off) in at}
    return out


def plain_rows(events: pa.Table, spine: pa.Table) -> set:
    """Spine rows whose 7-day window (so the 24h one too) holds only plain
    amounts: null, 0.0, or finite with 1e-6 < |x| < 1e9 (shop amounts; no
    NaN, inf, huge, tiny or subnormal values, no -0.0), as are the spine
    amounts. Differences there come from summation order alone."""
    import bisect

    def plain(x):
        return x is None or (x == 0.0 and math.copysign(1.0, x) > 0) or (
            math.isfinite(x) and 1e-6 < abs(x) < 1e9)

    by_card = {}
    for e in sorted(_rows(events.select(["card_id", "ts", "amount"])), key=lambda e: e["ts"]):
        by_card.setdefault(e["card_id"], []).append(e)
    times = {c: [e["ts"] for e in evs] for c, evs in by_card.items()}
    out = set()
    for i, s in enumerate(_rows(spine.select(["card_id", "ts", "amount"]))):
        evs, ts = by_card.get(s["card_id"], []), times.get(s["card_id"], [])
        window = evs[bisect.bisect_left(ts, s["ts"] - WEEK):bisect.bisect_left(ts, s["ts"])]
        if plain(s["amount"]) and all(plain(e["amount"]) for e in window):
            out.add(i)
    return out


def report(name: str, expected: pa.Table, actual: pa.Table, edges: dict, plain: set) -> None:
    per_feature, bad_rows = compare_tables(expected, actual)
    n = expected.num_rows
    print(f"\n{name}: rows differing from the exact reference (of {n}; "
          f"[in plain windows, of {len(plain)}]), by feature")
    for f in FEATURES:
        kinds = per_feature[f]
        total = sum(kinds.values())
        in_plain = len(plain.intersection(bad_rows[f]))
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))
        print(f"  {f:24s} {total:6d} [{in_plain:5d}]  {detail}")
    count_features = ["tx_count_1h", "tx_count_24h", "declined_count_24h",
                      "distinct_merchants_24h", "seconds_since_last_tx"]
    wrong = set().union(*(set(bad_rows[f]) for f in count_features))
    print(f"  window edges (rows with an event on an edge; of those, rows whose "
          f"counts or seconds_since_last differ):")
    for label, rows in edges.items():
        print(f"    {label:16s} {len(rows):6d} rows, {len(rows & wrong):4d} differ")


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=Path, required=True)
    p.add_argument("--spine", type=Path, required=True)
    p.add_argument("--engine", choices=[*ENGINES, "all"], required=True)
    p.add_argument("--out", type=Path, help="write the features here (Parquet)")
    p.add_argument("--threads", type=int, help="DuckDB threads (default: all)")
    p.add_argument("--check", action="store_true",
                   help="compare with the exact reference, by bits (slow: the reference is naive)")
    args = p.parse_args(argv)

    engines = [e for e in ENGINES if e != "reference"] if args.engine == "all" else [args.engine]
    if args.out and len(engines) > 1:
        p.error("--out takes one engine")

    started = time.perf_counter()
    events = pq.read_table(args.events)
    spine = pq.read_table(args.spine)
    read_s = time.perf_counter() - started
    results = {}
    for engine in engines:
        t0 = time.perf_counter()
        table = ENGINES[engine](events, spine, args.threads)
        compute_s = time.perf_counter() - t0
        write_s = 0.0
        if args.out:
            t1 = time.perf_counter()
            pq.write_table(table, args.out)
            write_s = time.perf_counter() - t1
        results[engine] = table
        print(f"{engine}: {events.num_rows} events, {spine.num_rows} spine rows: "
              f"compute {compute_s:.3f} s, wall {read_s + compute_s + write_s:.3f} s "
              f"(read {read_s:.3f} s, write {write_s:.3f} s), "
              f"peak RSS {peak_rss_mib():.0f} MiB", flush=True)

    if args.check:
        t0 = time.perf_counter()
        expected = results.get("reference") or run_reference(events, spine)
        print(f"reference: {time.perf_counter() - t0:.1f} s", flush=True)
        edges = edge_rows(events, spine)
        plain = plain_rows(events, spine)
        for engine, table in results.items():
            report(engine, expected, table, edges, plain)


if __name__ == "__main__":
    main()
