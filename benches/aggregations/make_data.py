"""Card-velocity data at benchmark scale, vectorized (numpy + pyarrow).

    python make_data.py --out target/aggbench --events 10000000 --spine 1000000 \
        --cards 100000 --seed 1 --subsets 1000000,100000

The schema is host/tests/aggregations/generate.py's (events: card_id,
ts timestamp[us, UTC], amount, merchant, declined; spine: card_id, ts,
amount), but the values are ordinary ones, not that generator's edge cases
(it is plain Python and takes minutes per million rows):

- cards `card-000000`...: activity per card lognormal (sigma 1.5): most
  cards have a few transactions, some are busy (the busiest about 200x the
  mean);
- times uniform over 60 days from 2026-01-01T00:00:00Z, half truncated to
  the second, a quarter to the millisecond; about 1% of events in bursts of
  2-4 at the same microsecond;
- amounts lognormal (median ~30) rounded to cents, 5% refunds (negative),
  0.5% null; merchants: 50 names, Zipf-like popularity; declined 3% true,
  1% null;
- events in random order (as generate.py writes them).

The spine: 30% of its rows are events' (card, time) (that event must not
count, the others at that microsecond neither), 65% a card by the same
activity weights at a uniform time, 5% cards with no events. Smaller event
files (`--subsets`) are random subsets of the largest, and the spine's
event-rows are drawn from the smallest subset, so every events file pairs
with the one spine (and a spine subset `spine_<n>.parquet` for each
`--spine-subsets`, for engines that cannot take the full spine).

Writes OUT/events_<n>.parquet for each size and OUT/spine_<n>.parquet.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

SECOND = 1_000_000
DAY = 86_400 * SECOND
START = int(dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).timestamp()) * SECOND
SPAN = 60 * DAY

EVENT_SCHEMA = pa.schema([
    pa.field("card_id", pa.string(), nullable=False),
    pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("amount", pa.float64()),
    pa.field("merchant", pa.string(), nullable=False),
    pa.field("declined", pa.bool_()),
])
SPINE_SCHEMA = pa.schema([
    pa.field("card_id", pa.string(), nullable=False),
    pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("amount", pa.float64()),
])


def times(rng: np.random.Generator, n: int) -> np.ndarray:
    t = START + rng.integers(0, SPAN, n, dtype=np.int64)
    g = rng.random(n)
    t = np.where(g < 0.5, t - t % SECOND, np.where(g < 0.75, t - t % 1000, t))
    return t


def amounts(rng: np.random.Generator, n: int, null_rate: float) -> pa.Array:
    a = np.round(rng.lognormal(3.4, 1.1, n), 2)
    a = np.where(rng.random(n) < 0.05, -a, a)
    a = np.where(a == 0.0, 0.01, a)
    return pa.array(a, pa.float64(), mask=rng.random(n) < null_rate)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--subsets", default="1000000", help="smaller event files, comma-separated")
    p.add_argument("--spine", type=int, default=1_000_000)
    p.add_argument("--spine-subsets", default="", help="smaller spine files, comma-separated")
    p.add_argument("--cards", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)

    cards = pa.array([f"card-{i:06d}" for i in range(args.cards)], pa.string())
    # 2% of cards never transact (they only appear in the spine).
    silent = rng.random(args.cards) < 0.02
    weights = rng.lognormal(0.0, 1.5, args.cards)
    weights[silent] = 0.0
    weights /= weights.sum()
    merchants = pa.array([f"merchant-{i:02d}" for i in range(50)], pa.string())
    mweights = 1.0 / np.arange(1, 51) ** 0.9
    mweights /= mweights.sum()

    # Events: most single, ~1% in bursts at one microsecond.
    n = args.events
    card_idx = rng.choice(args.cards, n, p=weights).astype(np.int32)
    ts = times(rng, n)
    burst = np.flatnonzero(rng.random(n) < 0.01)
    # A burst event copies the card and time of the event before it.
    burst = burst[burst > 0]
    card_idx[burst] = card_idx[burst - 1]
    ts[burst] = ts[burst - 1]
    merchant_idx = rng.choice(50, n, p=mweights).astype(np.int32)
    g = rng.random(n)
    declined = pa.array(g < 0.03, pa.bool_(), mask=g > 0.99)
    events = pa.table({
        "card_id": cards.take(pa.array(card_idx)),
        "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "amount": amounts(rng, n, 0.005),
        "merchant": merchants.take(pa.array(merchant_idx)),
        "declined": declined,
    }, schema=EVENT_SCHEMA)
    order = rng.permutation(n)
    events = events.take(pa.array(order))
    pq.write_table(events, args.out / f"events_{n}.parquet")
    print(f"events_{n}: {time.perf_counter() - started:.1f} s", flush=True)

    # Subsets: the first k rows of the shuffled file are a random subset.
    sizes = sorted({int(s) for s in args.subsets.split(",") if s}, reverse=True)
    for k in sizes:
        pq.write_table(events.slice(0, k), args.out / f"events_{k}.parquet")
        print(f"events_{k}: {time.perf_counter() - started:.1f} s", flush=True)
    smallest = min([n, *sizes])

    # Spine.
    m = args.spine
    kind = rng.random(m)
    at_event = kind < 0.30
    silent_row = kind >= 0.95
    sp_card = rng.choice(args.cards, m, p=weights).astype(np.int32)
    sp_ts = times(rng, m)
    picks = rng.integers(0, smallest, int(at_event.sum()))
    sp_card[at_event] = card_idx[order[picks]]
    sp_ts[at_event] = ts[order[picks]]
    silent_cards = np.flatnonzero(silent)
    sp_card[silent_row] = rng.choice(silent_cards, int(silent_row.sum()))
    spine = pa.table({
        "card_id": cards.take(pa.array(sp_card)),
        "ts": pa.array(sp_ts, pa.timestamp("us", tz="UTC")),
        "amount": amounts(rng, m, 0.01),
    }, schema=SPINE_SCHEMA)
    pq.write_table(spine, args.out / f"spine_{m}.parquet")
    for k in sorted({int(s) for s in args.spine_subsets.split(",") if s}, reverse=True):
        pq.write_table(spine.slice(0, k), args.out / f"spine_{k}.parquet")
    print(f"spine_{m}: {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
