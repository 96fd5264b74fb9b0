"""Card-velocity data with every edge the aggregation spec cares about.

Deterministic from a seed (`random.Random(seed)`): the same arguments give
the same files, byte for byte.

    python generate.py --seed 1 --events 20000 --spine 5000 --cards 500 --out DIR
    python generate.py ... --format csv      # DIR/events.csv, DIR/spine.csv
    python generate.py ... --format jsonl    # DIR/events.jsonl, DIR/spine.jsonl

What is in it (see `generate`):

- ties: bursts of several events of one card at the same microsecond, with
  different amounts and merchants;
- events on the window edges of spine rows: at t, t - 1h, t - 24h, t - 7d,
  and one microsecond either side of each;
- spine rows at exactly the time of an event (which must not count);
- amounts: sums that cancel (1e16, 1.0, -1e16 within an hour), wildly
  different magnitudes (1e-300, 1e300), -0.0 and 0.0, subnormals, a finite
  sum beyond float64 (MAX + MAX) and one back in range (MAX + MAX - MAX),
  NaN, -NaN, +inf, -inf, both infinities in one window (rare), nulls;
- declined true / false / null; merchants that differ only by case, by a
  trailing space, or by Unicode normalization (NFC "café" vs NFD "café"),
  and ones with commas, quotes and non-ASCII text (CSV quoting);
- cards with no events, spine rows of cards never seen, spine rows before
  the card's first event, far after its last, duplicate spine rows;
- events shuffled in the file, spine rows in arbitrary order.

Timestamps are integers (microseconds since the epoch, UTC) in the Python
rows, `timestamp("us", tz="UTC")` in Parquet, RFC 3339 with `Z` and six
fraction digits in CSV and JSON Lines (skewless's README, "Values").
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import random
import struct
import sys
from pathlib import Path
from typing import Optional

HOUR = 3_600_000_000
DAY = 24 * HOUR
WEEK = 7 * DAY
SECOND = 1_000_000

# 2026-03-01T00:00:00Z
START = int(dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc).timestamp()) * SECOND
SPAN = 28 * DAY

FLOAT_MAX = sys.float_info.max
NAN = float("nan")
NEG_NAN = struct.unpack("<d", struct.pack("<Q", 0xFFF8000000000000))[0]
INF = float("inf")

EVENT_COLUMNS = ["card_id", "ts", "amount", "merchant", "declined"]
SPINE_COLUMNS = ["card_id", "ts", "amount"]

MERCHANTS = [
    "grocery", "Grocery", "grocery ", "fuel", "travel", "airline", "coffee",
    "café",          # NFC: U+00E9
    "cafe\u0301",    # NFD: e + U+0301, another merchant by bytes
    "books, music & more", 'the "best" deli', "日本語ストア", "pharmacy",
    "hardware", "electronics", "clothing", "restaurant", "taxi", "hotel",
    "streaming",
]
# Card ids that test CSV quoting and text keys.
ODD_CARDS = ["card, with comma", 'card "quoted"', "carte-é", "カード"]


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------


def ordinary_amount(rng: random.Random) -> float:
    """A shop amount: mostly cents, some arbitrary doubles."""
    r = rng.random()
    if r < 0.7:
        return rng.randrange(1, 50_000) / 100
    if r < 0.8:
        return -rng.randrange(1, 20_000) / 100  # refunds
    if r < 0.95:
        return rng.uniform(0, 1000)
    return rng.lognormvariate(3, 3)


def edgy_amount(rng: random.Random) -> Optional[float]:
    """An amount from the edges (one value at a time; the combinations that
    need several events are made by `scenarios`)."""
    return rng.choice([
        None, None, None, 0.0, -0.0, 1e-300, -1e-300, 1e300, -1e300,
        5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308,
        1e16, -1e16, 1.0, 0.1, 0.2, 0.3, FLOAT_MAX, -FLOAT_MAX,
        2.0**53, 2.0**53 + 2, 1 - 2.0**-53,
    ])


def timestamp_in_span(rng: random.Random) -> int:
    """A time within the span, at a random granularity (s, ms or us)."""
    t = START + rng.randrange(SPAN)
    r = rng.random()
    if r < 0.5:
        return t - (t % SECOND)
    if r < 0.8:
        return t - (t % 1000)
    return t


def declined_value(rng: random.Random) -> Optional[bool]:
    r = rng.random()
    if r < 0.1:
        return None
    return r < 0.25


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


def generate(seed: int, n_events: int, n_spine: int, n_cards: int):
    """(events, spine): lists of dicts, exactly n_events and n_spine rows."""
    rng = random.Random(seed)
    n_cards = max(n_cards, 2)
    cards = [f"card-{i:05d}" for i in range(n_cards - len(ODD_CARDS))] + ODD_CARDS[: n_cards]
    cards = cards[:n_cards]
    rng.shuffle(cards)
    # About 5% of cards (at least one) never have events.
    n_silent = max(1, n_cards // 20)
    silent = cards[:n_silent]
    active = cards[n_silent:]
    # Skewed activity: a few cards are very busy.
    weights = [1 / (i + 1) ** 0.8 for i in range(len(active))]
    merchants_of = {c: rng.sample(MERCHANTS, rng.randrange(2, 8)) for c in active}

    def pick_card() -> str:
        return rng.choices(active, weights)[0]

    events: list[dict] = []
    spine: list[dict] = []

    def event(card, ts, amount=..., merchant=None, declined=...):
        events.append({
            "card_id": card,
            "ts": ts,
            "amount": ordinary_amount(rng) if amount is ... else amount,
            "merchant": merchant or rng.choice(merchants_of[card]),
            "declined": declined_value(rng) if declined is ... else declined,
        })

    def spine_amount() -> Optional[float]:
        r = rng.random()
        if r < 0.85:
            return ordinary_amount(rng)
        return rng.choice([None, None, 0.0, -0.0, NAN, INF, -INF, 1e-300, 1e300, 5e-324])

    def spine_row(card, ts):
        spine.append({"card_id": card, "ts": ts, "amount": spine_amount()})

    budget_edges = n_events // 4  # at most a quarter of the events on edges
    budget_scenarios = n_events // 10

    # 1. Window edges: a spine row at t with events at each edge, +-1 us.
    offsets = [0, -1, 1]
    edges = [0, HOUR, DAY, WEEK]
    per_anchor = len(offsets) * len(edges)
    n_anchors = min(n_spine // 8, budget_edges // per_anchor)
    for _ in range(n_anchors):
        card = pick_card()
        t = timestamp_in_span(rng) + WEEK  # room for the 7d edge
        for edge in edges:
            for off in offsets:
                if rng.random() < 0.8:
                    event(card, t - edge + off)
        spine_row(card, t)

    # 2. Scenarios: several events that test one thing together, each followed
    #    by a spine row whose windows hold them.
    def scenario_cancel(card, t):
        # 1e16 + 1.0 - 1e16 = 1.0 exactly; left to right in floats gives 0.0.
        for a in rng.sample([1e16, 1.0, -1e16], 3):
            event(card, t - rng.randrange(1, HOUR), amount=a)

    def scenario_magnitudes(card, t):
        for a in [1e300, 1e-300, -1e300, 3.0, 5e-324]:
            event(card, t - rng.randrange(1, DAY), amount=a)

    def scenario_zeros(card, t):
        for a in rng.sample([-0.0, 0.0, -0.0], 3):
            event(card, t - rng.randrange(1, DAY), amount=a)

    def scenario_negative_zeros_only(card, t):
        # Only -0.0 in the windows: the exact sum is zero, so +0.0; max -0.0.
        for _ in range(2):
            event(card, t - rng.randrange(1, DAY), amount=-0.0)

    def scenario_subnormals(card, t):
        for a in [5e-324, 5e-324, 2.225073858507201e-308, -1e-310]:
            event(card, t - rng.randrange(1, DAY), amount=a)

    def scenario_overflow(card, t):
        # MAX + MAX overflows: +inf. (A later spine row sees MAX, MAX, -MAX.)
        event(card, t - rng.randrange(1, HOUR), amount=FLOAT_MAX)
        event(card, t - rng.randrange(1, HOUR), amount=FLOAT_MAX)

    def scenario_back_in_range(card, t):
        # MAX + MAX - MAX: exactly MAX; a running float sum is inf.
        for a in [FLOAT_MAX, FLOAT_MAX, -FLOAT_MAX]:
            event(card, t - rng.randrange(1, HOUR), amount=a)

    def scenario_nan(card, t):
        event(card, t - rng.randrange(1, DAY), amount=rng.choice([NAN, NEG_NAN]))
        event(card, t - rng.randrange(1, DAY), amount=1.0)

    def scenario_infs(card, t):
        event(card, t - rng.randrange(1, DAY), amount=INF)
        if rng.random() < 0.5:
            event(card, t - rng.randrange(1, DAY), amount=-INF)
        event(card, t - rng.randrange(1, DAY), amount=2.0)

    def scenario_nulls(card, t):
        for _ in range(rng.randrange(1, 4)):
            event(card, t - rng.randrange(1, WEEK), amount=None, declined=None)

    def scenario_ties(card, t):
        # Several events of one card at the same microsecond.
        at = t - rng.randrange(1, DAY)
        for _ in range(rng.randrange(2, 6)):
            event(card, at, amount=edgy_amount(rng) if rng.random() < 0.2 else ordinary_amount(rng),
                  merchant=rng.choice(MERCHANTS))

    def scenario_merchants(card, t):
        for m in ["café", "cafe\u0301", "grocery", "Grocery", "grocery "]:
            event(card, t - rng.randrange(1, DAY), merchant=m)

    def scenario_at_t(card, t):
        # Events exactly at t never count; the spine row sits on them.
        for _ in range(rng.randrange(1, 3)):
            event(card, t)
        event(card, t - 1)

    scenarios = [
        scenario_cancel, scenario_magnitudes, scenario_zeros,
        scenario_negative_zeros_only, scenario_subnormals, scenario_overflow,
        scenario_back_in_range, scenario_nan, scenario_infs, scenario_nulls,
        scenario_ties, scenario_merchants, scenario_at_t,
    ]
    rare = {scenario_nan, scenario_infs}
    n_before = len(events)
    while len(events) - n_before < budget_scenarios and len(spine) < n_spine // 3:
        s = rng.choice(scenarios)
        if s in rare and rng.random() < 0.7:
            continue  # NaN and inf poison a card's windows for a week: keep them rare
        # Scenarios use fresh-ish cards (the tail), so one NaN does not hide
        # everything else of the busy cards.
        card = rng.choice(active[len(active) // 4:] or active)
        t = timestamp_in_span(rng) + WEEK
        s(card, t)
        spine_row(card, t)
        if rng.random() < 0.5:
            spine_row(card, t + rng.randrange(1, 2 * HOUR))

    # 3. Ordinary events up to n_events, some as bursts at one microsecond.
    while len(events) < n_events:
        card = pick_card()
        ts = timestamp_in_span(rng)
        if rng.random() < 0.03:
            for _ in range(min(rng.randrange(2, 5), n_events - len(events))):
                event(card, ts, amount=ordinary_amount(rng), merchant=rng.choice(MERCHANTS))
        else:
            amount = edgy_amount(rng) if rng.random() < 0.003 else ordinary_amount(rng)
            event(card, ts, amount=amount)
    del events[n_events:]

    # 4. Spine rows up to n_spine.
    first_seen: dict[str, int] = {}
    last_seen: dict[str, int] = {}
    for e in events:
        c = e["card_id"]
        first_seen[c] = min(first_seen.get(c, e["ts"]), e["ts"])
        last_seen[c] = max(last_seen.get(c, e["ts"]), e["ts"])
    seen_cards = sorted(first_seen)
    ghost = 0
    while len(spine) < n_spine:
        r = rng.random()
        if r < 0.30 and events:
            # Exactly at an event's time: that event must not count.
            e = rng.choice(events)
            spine_row(e["card_id"], e["ts"])
        elif r < 0.35 and events:
            # A microsecond after an event: it counts.
            e = rng.choice(events)
            spine_row(e["card_id"], e["ts"] + 1)
        elif r < 0.40:
            spine_row(rng.choice(silent), timestamp_in_span(rng))
        elif r < 0.43:
            ghost += 1
            spine_row(f"never-seen-{ghost}", timestamp_in_span(rng))
        elif r < 0.46 and seen_cards:
            c = rng.choice(seen_cards)
            spine_row(c, first_seen[c] - rng.randrange(0, DAY))  # before (or at) the first
        elif r < 0.48 and seen_cards:
            c = rng.choice(seen_cards)
            spine_row(c, last_seen[c] + WEEK + rng.randrange(0, 3))  # 7d after the last, +-
        elif r < 0.50 and spine:
            spine.append(dict(rng.choice(spine)))  # a duplicate row
        else:
            spine_row(pick_card(), timestamp_in_span(rng) + rng.randrange(0, WEEK))
    del spine[n_spine:]

    rng.shuffle(events)
    rng.shuffle(spine)
    return events, spine


# ---------------------------------------------------------------------------
# The hand-checkable example
# ---------------------------------------------------------------------------

T = int(dt.datetime(2026, 3, 2, 12, 0, 0, tzinfo=dt.timezone.utc).timestamp()) * SECOND
MINUTE = 60 * SECOND


def worked_example():
    """(events, spine, expected): 8 events and 4 spine rows of two cards
    (and a third never seen), small enough to check by hand.

    T = 2026-03-02T12:00:00Z.

    card A:
      e1  T - 1h      10.0   m1  declined False   (exactly at t - 1h of s1: counts)
      e2  T - 30min   1e16   m2  declined True
      e3  T - 30min   1.0    m3  declined null    (ties with e2; null is not declined)
      e4  T - 20min   -1e16  m2  declined False   (e2 + e3 + e4 = 1.0 exactly)
      e5  T           1000.0 m4  declined True    (exactly at t of s1: does not count)
      e6  T - 2d      9.0    m1  declined False   (in 7d only)
    card B:
      e7  T - 3h      null   m9  declined True
      e8  T - 8d      7.0    m9  declined False   (outside every window)

    s1 = (A, T, amount 22.0)
      1h  = [T-1h, T):  e1 e2 e3 e4          -> tx_count_1h 4
      24h = [T-24h, T): e1 e2 e3 e4          -> tx_count_24h 4
      amount_sum_24h = 10 + 1e16 + 1 - 1e16 = 11.0 exactly
        (a float sum in the file's order, 10 + 1e16 = 1.000000000000001e16,
         + 1 rounds to even (1e16 + 12), - 1e16 gives 12.0, not 11.0)
      7d  = [T-7d, T):  e1 e2 e3 e4 e6: sum 11 + 9 = 20, 5 amounts
      amount_mean_7d = 20 / 5 = 4.0;  amount_max_7d = 1e16
      distinct_merchants_24h = {m1, m2, m3} = 3
      declined_count_24h = e2 = 1
      seconds_since_last_tx: latest in 7d is e4 at T - 20min -> 1200.0
      amount_over_mean_7d = 22.0 / 4.0 = 5.5

    s2 = (A, T + 1h, amount null)
      1h  = [T, T+1h):  e5 (at the left edge: counts) -> 1
      24h = [T-23h, T+1h): e1..e5 -> 5; sum = 11 + 1000 = 1011.0
      7d: e1..e6: sum 1020, 6 amounts -> mean 170.0; max 1e16
      distinct = {m1, m2, m3, m4} = 4; declined = e2, e5 = 2
      seconds_since_last_tx: e5 at T -> 3600.0
      amount_over_mean_7d: the spine amount is null -> null

    s3 = (B, T, amount 3.0)
      1h: nothing (e7 is at T - 3h) -> 0;  24h: e7 -> 1
      amount_sum_24h: e7's amount is null, skipped -> 0.0
      7d: e7 only (e8 is 8 days back), no amount -> mean null, max null
      distinct = {m9} = 1; declined = e7 = 1
      seconds_since_last_tx = 3h = 10800.0
      amount_over_mean_7d: the mean is null -> null

    s4 = (C, T, amount 1.0), a card never seen
      counts 0, sum 0.0, mean/max/seconds/over-mean null, distinct 0
    """
    def e(card, ts, amount, merchant, declined):
        return {"card_id": card, "ts": ts, "amount": amount, "merchant": merchant,
                "declined": declined}

    events = [
        e("A", T - HOUR, 10.0, "m1", False),
        e("A", T - 30 * MINUTE, 1e16, "m2", True),
        e("A", T - 30 * MINUTE, 1.0, "m3", None),
        e("A", T - 20 * MINUTE, -1e16, "m2", False),
        e("A", T, 1000.0, "m4", True),
        e("A", T - 2 * DAY, 9.0, "m1", False),
        e("B", T - 3 * HOUR, None, "m9", True),
        e("B", T - 8 * DAY, 7.0, "m9", False),
    ]
    spine = [
        {"card_id": "A", "ts": T, "amount": 22.0},
        {"card_id": "A", "ts": T + HOUR, "amount": None},
        {"card_id": "B", "ts": T, "amount": 3.0},
        {"card_id": "C", "ts": T, "amount": 1.0},
    ]

    def answer(c1, c24, s24, mean7, max7, distinct, declined, since, over):
        return {
            "tx_count_1h": c1, "tx_count_24h": c24, "amount_sum_24h": s24,
            "amount_mean_7d": mean7, "amount_max_7d": max7,
            "distinct_merchants_24h": distinct, "declined_count_24h": declined,
            "seconds_since_last_tx": since, "amount_over_mean_7d": over,
        }

    expected = [
        answer(4, 4, 11.0, 4.0, 1e16, 3, 1, 1200.0, 5.5),
        answer(1, 5, 1011.0, 170.0, 1e16, 4, 2, 3600.0, None),
        answer(0, 1, 0.0, None, None, 1, 1, 10800.0, None),
        answer(0, 0, 0.0, None, None, 0, 0, None, None),
    ]
    return events, spine, expected


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def rfc3339(micros: int) -> str:
    """`2026-03-02T00:10:43.000001Z`: UTC, six fraction digits."""
    at = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=micros)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def float_text(x: float) -> str:
    """skewless's text form of a float64: the shortest round trip (Python's
    repr), NaN / -NaN / NaN:0x... by bits, Infinity, -Infinity."""
    if math.isnan(x):
        b = struct.unpack("<Q", struct.pack("<d", x))[0]
        if b == 0x7FF8000000000000:
            return "NaN"
        if b == 0xFFF8000000000000:
            return "-NaN"
        return f"NaN:0x{b:016x}"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return repr(x)


def _text_row(row: dict, columns: list[str]) -> list[str]:
    out = []
    for c in columns:
        v = row[c]
        if v is None:
            out.append("")
        elif c == "ts":
            out.append(rfc3339(v))
        elif isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, float):
            out.append(float_text(v))
        else:
            out.append(v)
    return out


def write_csv(rows: list[dict], columns: list[str], path: Path) -> None:
    # An empty field is null; no text value here is empty (merchants and
    # card ids never are), so nothing is lost.
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(columns)
        for row in rows:
            w.writerow(_text_row(row, columns))


def _json_value(c: str, v):
    if v is None:
        return None
    if c == "ts":
        return rfc3339(v)
    if isinstance(v, float) and not math.isfinite(v):
        return float_text(v)  # JSON has no NaN or Infinity: strings
    return v  # json writes finite floats with repr: the shortest round trip


def write_jsonl(rows: list[dict], columns: list[str], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            obj = {c: _json_value(c, row[c]) for c in columns}
            f.write(json.dumps(obj, ensure_ascii=False, allow_nan=False) + "\n")


def events_table(events: list[dict]):
    import pyarrow as pa

    schema = pa.schema([
        pa.field("card_id", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("amount", pa.float64()),
        pa.field("merchant", pa.string(), nullable=False),
        pa.field("declined", pa.bool_()),
    ])
    return pa.table({c: [e[c] for e in events] for c in EVENT_COLUMNS}, schema=schema)


def spine_table(spine: list[dict]):
    import pyarrow as pa

    schema = pa.schema([
        pa.field("card_id", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("amount", pa.float64()),
    ])
    return pa.table({c: [r[c] for r in spine] for c in SPINE_COLUMNS}, schema=schema)


def write(events: list[dict], spine: list[dict], out: Path, fmt: str = "parquet") -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"events.{fmt}", out / f"spine.{fmt}"]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(events_table(events), paths[0])
        pq.write_table(spine_table(spine), paths[1])
    elif fmt == "csv":
        write_csv(events, EVENT_COLUMNS, paths[0])
        write_csv(spine, SPINE_COLUMNS, paths[1])
    elif fmt == "jsonl":
        write_jsonl(events, EVENT_COLUMNS, paths[0])
        write_jsonl(spine, SPINE_COLUMNS, paths[1])
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return paths


# ---------------------------------------------------------------------------
# Reading back (Parquet) as Python rows
# ---------------------------------------------------------------------------


def read_parquet_rows(path) -> list[dict]:
    """A Parquet file as a list of dicts, timestamps as integer microseconds
    (NaN bits are kept: pyarrow hands back the stored doubles)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    columns = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            if col.type.unit != "us":
                col = col.cast(pa.timestamp("us", tz=col.type.tz))
            col = col.cast(pa.int64())
        columns[name] = col.to_pylist()
    n = table.num_rows
    return [{name: columns[name][i] for name in table.column_names} for i in range(n)]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--spine", type=int, default=5_000)
    p.add_argument("--cards", type=int, default=500)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--format", choices=["parquet", "csv", "jsonl"], default="parquet")
    args = p.parse_args(argv)
    events, spine = generate(args.seed, args.events, args.spine, args.cards)
    for path in write(events, spine, args.out, args.format):
        print(path)


if __name__ == "__main__":
    main()
