"""A naive, independent reference for skewless's windowed aggregations.

Written for clarity, not speed: for every spine row, the events of its key
are filtered by the membership rule of `/work/notes/aggregations-spec.md`
and each function is computed from its definition there, with exact
arithmetic where the spec asks for it (float sums via `fractions.Fraction`).

Timestamps are integers: microseconds since the epoch (UTC). Floats are
Python floats (IEEE binary64); every answer is meant to be compared by its
bits (`same`), not with a tolerance.

Two layers:

- generic helpers, one per aggregate function (`count`, `count_values`,
  `sum_`, `mean`, `min_`, `max_`, `count_distinct`, `first`, `last`,
  `seconds_since_last`), each over a list of `(time, value)` pairs that
  are already the members of one window (see `members` / `window_pairs`),
  so tests of other transforms can reuse them;
- `card_velocity(events, spine)`: the nine card-velocity features.
"""

from __future__ import annotations

import math
import struct
from fractions import Fraction
from typing import Any, Callable, Iterable, Optional, Sequence

# ---------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------

MICROS_PER_SECOND = 1_000_000
HOUR = 3_600 * MICROS_PER_SECOND
DAY = 24 * HOUR
WEEK = 7 * DAY

# ---------------------------------------------------------------------------
# Float bits, totalOrder, comparing by bits
# ---------------------------------------------------------------------------

CANONICAL_NAN_BITS = 0x7FF8000000000000
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def bits(x: float) -> int:
    """The 64 bits of a float64, as an unsigned integer."""
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def from_bits(b: int) -> float:
    """The float64 with these 64 bits."""
    return struct.unpack("<d", struct.pack("<Q", b))[0]


CANONICAL_NAN = from_bits(CANONICAL_NAN_BITS)


def same(a: Any, b: Any) -> bool:
    """Equal, with floats compared by their bits (so -0.0 != 0.0, and a NaN
    equals only a NaN with the same bits); None equals only None. Other
    values (ints, strings, bools) compare with ==, but an int never equals a
    float and a bool never equals an int."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, float) and isinstance(b, float) and bits(a) == bits(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def total_order_key(x: float) -> int:
    """An integer that orders float64s by IEEE 754 totalOrder, as Rust's
    `f64::total_cmp` does: -NaN < -inf < ... < -0.0 < +0.0 < ... < +inf < +NaN.

    Read the bits as a signed integer; for negative floats (sign bit set)
    flip every bit but the sign, so that larger magnitudes sort lower."""
    signed = struct.unpack("<q", struct.pack("<d", x))[0]
    if signed < 0:
        signed ^= 0x7FFFFFFFFFFFFFFF
    return signed


def order_key(v: Any) -> Any:
    """The min/max order of one non-null value: integers numerically, floats
    by totalOrder, text by its UTF-8 bytes, booleans false < true, timestamps
    (integer microseconds, or datetimes) and dates by time."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float):
        return total_order_key(v)
    if isinstance(v, str):
        return v.encode("utf-8")
    return v  # int, datetime, date: their natural order is the spec's


def null_first_key(v: Any) -> tuple:
    """The order of a possibly null value: null first, then `order_key`."""
    return (0,) if v is None else (1, order_key(v))


def distinct_key(v: Any) -> Any:
    """The equality of count_distinct: floats by bits (0.0 and -0.0 are two
    values, NaNs by payload), text by bytes, others by value."""
    if isinstance(v, float):
        return ("f", bits(v))
    if isinstance(v, bool):
        return ("b", v)
    if isinstance(v, str):
        return ("s", v.encode("utf-8"))
    return ("v", v)


def ieee_div(a: Optional[float], b: Optional[float]) -> Optional[float]:
    """a / b with IEEE 754 semantics (null when either is null).

    Python's `/` on floats is the hardware's IEEE division except that it
    raises ZeroDivisionError for a zero divisor; those cases are done here:
    x / +-0.0 is +-inf (sign: the xor of the signs), 0 / 0 is NaN. A NaN
    operand gives NaN: Python's `/` passes it through (the hardware keeps the
    NaN operand's bits, the dividend's when both are NaN), and for a zero
    divisor the NaN dividend is returned as is, which is what the hardware
    does too. 0/0 gives the canonical quiet NaN (the spec does not fix which
    NaN a row function's invalid operation yields; see `same_any_nan`)."""
    if a is None or b is None:
        return None
    a = float(a)
    b = float(b)
    if math.isnan(a):
        return a
    if math.isnan(b):
        return b
    if b == 0.0:
        if a == 0.0:
            return CANONICAL_NAN
        negative = (math.copysign(1.0, a) < 0) != (math.copysign(1.0, b) < 0)
        return -math.inf if negative else math.inf
    return a / b


def same_any_nan(a: Any, b: Any) -> bool:
    """Like `same`, but any two NaNs are equal. For values the spec does not
    pin to bits (a row function's 0/0)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return same(a, b)


# ---------------------------------------------------------------------------
# Exact float sums
# ---------------------------------------------------------------------------


def round_fraction(exact: Fraction) -> float:
    """The float64 nearest to an exact rational (ties to even), +-inf beyond
    the range; an exact zero is +0.0.

    Python's int / int true division is correctly rounded (CPython's
    long_true_divide, subnormals included) and raises OverflowError only when
    the *rounded* result overflows, which is IEEE round-to-nearest overflow."""
    if exact == 0:
        return 0.0
    try:
        return exact.numerator / exact.denominator
    except OverflowError:
        return math.inf if exact > 0 else -math.inf


def exact_float_sum(values: Iterable[Optional[float]]) -> float:
    """The spec's float sum of the non-null values: any NaN, or both +inf and
    -inf, gives the canonical NaN; else +inf or -inf if present; else the
    exact sum of the finite values, rounded once (exact zero: +0.0). The sum
    of nothing is +0.0."""
    saw_nan = saw_pos_inf = saw_neg_inf = False
    exact = Fraction(0)
    for v in values:
        if v is None:
            continue
        v = float(v)  # float32 values arrive as Python floats: widened exactly
        if math.isnan(v):
            saw_nan = True
        elif v == math.inf:
            saw_pos_inf = True
        elif v == -math.inf:
            saw_neg_inf = True
        else:
            exact += Fraction(v)  # Fraction(float) is exact
    if saw_nan or (saw_pos_inf and saw_neg_inf):
        return CANONICAL_NAN
    if saw_pos_inf:
        return math.inf
    if saw_neg_inf:
        return -math.inf
    return round_fraction(exact)


# ---------------------------------------------------------------------------
# Membership
# ---------------------------------------------------------------------------


def in_window(event_time: int, t: int, window: int) -> bool:
    """The membership rule: t - W <= event time < t (strict right edge)."""
    return t - window <= event_time < t


def members(
    events: Sequence[dict],
    *,
    key_column: str,
    time_column: str,
    key: Any,
    t: int,
    window: int,
    filter_column: Optional[str] = None,
) -> list[dict]:
    """The events that count for the query (key, t) in a window: same key,
    t - window <= time < t, and the filter (if any) true (null is false)."""
    if window <= 0:
        raise ValueError(f"a window must be > 0 microseconds, not {window}")
    chosen = []
    for event in events:
        if event[key_column] != key:
            continue
        if not in_window(event[time_column], t, window):
            continue
        if filter_column is not None and event[filter_column] is not True:
            continue
        chosen.append(event)
    return chosen


def window_pairs(
    events: Sequence[dict],
    *,
    key_column: str,
    time_column: str,
    value_column: Optional[str],
    key: Any,
    t: int,
    window: int,
    filter_column: Optional[str] = None,
) -> list[tuple]:
    """The members of a window as (time, value) pairs, for the helpers below
    (value None when there is no value column)."""
    chosen = members(
        events, key_column=key_column, time_column=time_column, key=key, t=t,
        window=window, filter_column=filter_column,
    )
    return [
        (e[time_column], None if value_column is None else e[value_column])
        for e in chosen
    ]


def check_not_null(rows: Sequence[dict], columns: Sequence[str], what: str) -> None:
    """Events (and spine rows) with a null key or time are refused, naming
    the row."""
    for i, row in enumerate(rows):
        for column in columns:
            if row.get(column) is None:
                raise ValueError(f"{what} row {i}: `{column}` is null")


# ---------------------------------------------------------------------------
# The aggregate functions, each over the (time, value) pairs of one window
# ---------------------------------------------------------------------------
#
# `pairs` are the members of one window (already filtered by key, time and
# filter). A pair may carry a third element: the event's tie-break key for
# first/last (a tuple already in the spec's order: declared tie-break value,
# then every event value, each as `null_first_key`). Without it, ties in time
# are broken by the value itself, which is the spec's rule when the value is
# the only event value and no tie-break is declared.


def _values(pairs: Iterable[tuple]) -> list:
    return [p[1] for p in pairs if p[1] is not None]


def count(pairs: Sequence[tuple]) -> int:
    """count(): the number of events (the filter is applied by `members`)."""
    return len(pairs)


def count_values(pairs: Sequence[tuple]) -> int:
    """count(v): the number of events whose v is not null."""
    return len(_values(pairs))


def _is_integer_values(values: list) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def sum_(pairs: Sequence[tuple], *, integer: Optional[bool] = None):
    """sum(v): integers exactly (an int64 overflow raises OverflowError, the
    spec's row error), floats by `exact_float_sum`. `integer` says which when
    the window has no value (default: a float sum, 0.0); when None it is
    inferred from the values."""
    values = _values(pairs)
    if integer is None:
        integer = bool(values) and _is_integer_values(values)
    if integer:
        total = sum(values)
        if not INT64_MIN <= total <= INT64_MAX:
            raise OverflowError(f"sum {total} overflows int64")
        return total
    return exact_float_sum(values)


def mean(pairs: Sequence[tuple]) -> Optional[float]:
    """mean(v): (the sum, rounded once to float64) / (count of non-null v),
    one IEEE division; null when no value. An integer sum is exact, then
    rounded once by float(int), which is correctly rounded."""
    values = _values(pairs)
    if not values:
        return None
    if _is_integer_values(values):
        rounded = float(sum(values))
    else:
        rounded = exact_float_sum(values)
    return rounded / len(values)  # count > 0: Python's / is IEEE here


def min_(pairs: Sequence[tuple]):
    """min(v) in the spec's order (floats by totalOrder); null when empty."""
    values = _values(pairs)
    if not values:
        return None
    return min(values, key=order_key)


def max_(pairs: Sequence[tuple]):
    """max(v) in the spec's order (floats by totalOrder); null when empty."""
    values = _values(pairs)
    if not values:
        return None
    return max(values, key=order_key)


def count_distinct(pairs: Sequence[tuple]) -> int:
    """count_distinct(v): distinct non-null values (floats by bits, text by
    bytes)."""
    return len({distinct_key(v) for v in _values(pairs)})


def _event_order(pair: tuple) -> tuple:
    tie = pair[2] if len(pair) > 2 else (null_first_key(pair[1]),)
    return (pair[0], tie)


def first(pairs: Sequence[tuple]):
    """first(v): v of the earliest event whose v is not null; null if none."""
    candidates = [p for p in pairs if p[1] is not None]
    if not candidates:
        return None
    return min(candidates, key=_event_order)[1]


def last(pairs: Sequence[tuple]):
    """last(v): v of the latest event whose v is not null; null if none."""
    candidates = [p for p in pairs if p[1] is not None]
    if not candidates:
        return None
    return max(candidates, key=_event_order)[1]


def last_n(pairs: Sequence[tuple], n: int) -> list:
    """last_n(v, n): the last n non-null values, oldest first; [] if none."""
    candidates = sorted((p for p in pairs if p[1] is not None), key=_event_order)
    return [p[1] for p in candidates[-n:]] if n > 0 else []


def seconds_since_last(pairs: Sequence[tuple], t: int) -> Optional[float]:
    """seconds_since_last(): (t - time of the latest event) / 1e6, the integer
    microseconds converted to float64 (correctly rounded by float(int)) and
    divided once; null when the window has no event. Counts events, so a
    null value does not matter."""
    if not pairs:
        return None
    latest = max(p[0] for p in pairs)
    return float(t - latest) / 1e6


# ---------------------------------------------------------------------------
# Card velocity
# ---------------------------------------------------------------------------

FEATURES = [
    "tx_count_1h",
    "tx_count_24h",
    "amount_sum_24h",
    "amount_mean_7d",
    "amount_max_7d",
    "distinct_merchants_24h",
    "declined_count_24h",
    "seconds_since_last_tx",
    "amount_over_mean_7d",
]
INT_FEATURES = {"tx_count_1h", "tx_count_24h", "distinct_merchants_24h", "declined_count_24h"}
FLOAT_FEATURES = [f for f in FEATURES if f not in INT_FEATURES]


def card_velocity_row(events_of_card: Sequence[dict], card_id: str, t: int,
                      spine_amount: Optional[float]) -> dict:
    """The nine features of one spine row, from the events (all of them, or
    only those of its card: `members` filters by key either way)."""

    def pairs(window: int, value: Optional[str], filter_column: Optional[str] = None):
        return window_pairs(
            events_of_card, key_column="card_id", time_column="ts",
            value_column=value, key=card_id, t=t, window=window,
            filter_column=filter_column,
        )

    hour = pairs(HOUR, None)
    day_amounts = pairs(DAY, "amount")
    day_merchants = pairs(DAY, "merchant")
    day_declined = pairs(DAY, None, filter_column="declined")
    week_amounts = pairs(WEEK, "amount")

    amount_mean_7d = mean(week_amounts)
    return {
        "tx_count_1h": count(hour),
        "tx_count_24h": count(day_amounts),
        "amount_sum_24h": sum_(day_amounts, integer=False),
        "amount_mean_7d": amount_mean_7d,
        "amount_max_7d": max_(week_amounts),
        "distinct_merchants_24h": count_distinct(day_merchants),
        "declined_count_24h": count(day_declined),
        "seconds_since_last_tx": seconds_since_last(week_amounts, t),
        # The row function runs in a component with NaN canonicalization:
        # any NaN it computes is the canonical one.
        "amount_over_mean_7d": canonical_nan(ieee_div(spine_amount, amount_mean_7d)),
    }


def canonical_nan(x: Optional[float]) -> Optional[float]:
    """A NaN as the canonical quiet NaN (what a component computes)."""
    if x is not None and math.isnan(x):
        return CANONICAL_NAN
    return x


def card_velocity(events: list[dict], spine: list[dict]) -> list[dict]:
    """The nine card-velocity features for each spine row, in spine order.

    events: dicts with card_id (str), ts (int microseconds), amount (float or
    None), merchant (str), declined (bool or None). spine: dicts with card_id,
    ts, amount (float or None). A null key or time is refused (ValueError
    naming the row)."""
    check_not_null(events, ["card_id", "ts"], "event")
    check_not_null(spine, ["card_id", "ts"], "spine")
    # Grouping by card only saves time: `members` checks the key again.
    by_card: dict[str, list[dict]] = {}
    for event in events:
        by_card.setdefault(event["card_id"], []).append(event)
    return [
        card_velocity_row(by_card.get(row["card_id"], []), row["card_id"], row["ts"],
                          row.get("amount"))
        for row in spine
    ]


def compare(expected: Sequence[dict], actual: Sequence[dict],
            features: Sequence[str] = FEATURES,
            nan_insensitive: Sequence[str] = ()) -> dict[str, list[int]]:
    """Per feature, the spine rows whose values differ (by bits for floats;
    features in `nan_insensitive` treat any two NaNs as equal)."""
    if len(expected) != len(actual):
        raise ValueError(f"{len(expected)} expected rows, {len(actual)} actual")
    diffs: dict[str, list[int]] = {f: [] for f in features}
    for i, (e, a) in enumerate(zip(expected, actual)):
        for f in features:
            eq = same_any_nan if f in nan_insensitive else same
            if not eq(e[f], a[f]):
                diffs[f].append(i)
    return diffs
