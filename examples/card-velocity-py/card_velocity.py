"""Card-velocity features, in Python: how a card has been used in the hour,
day and week before a transaction. Bit-identical to the Rust
`examples/card-velocity` (a test compares every output bit)."""

import math
from dataclasses import dataclass
from typing import Annotated, Optional

from skewless_guest import agg, aggregates, events, transform


@dataclass
class Transaction:
    amount: Optional[float]
    merchant: str
    declined: bool


@events(key="card_id", time="ts")
def transaction(amount: Optional[float], merchant: str, declined: Optional[bool]) -> Transaction:
    """A past transaction of a card (unknown `declined` counts as not)."""
    return Transaction(amount, merchant, declined is True)


@aggregates(events=transaction)
@dataclass
class Velocity:
    tx_count_1h: Annotated[int, agg.count(window="1h")]
    tx_count_24h: Annotated[int, agg.count(window="24h")]
    amount_sum_24h: Annotated[float, agg.sum("amount", window="24h")]
    amount_mean_7d: Annotated[Optional[float], agg.mean("amount", window="7d")]
    amount_max_7d: Annotated[Optional[float], agg.max("amount", window="7d")]
    distinct_merchants_24h: Annotated[int, agg.count_distinct("merchant", window="24h")]
    declined_count_24h: Annotated[int, agg.count(window="24h", filter="declined")]
    seconds_since_last_tx: Annotated[Optional[float], agg.seconds_since_last(window="7d")]


@dataclass
class CardFeatures:
    tx_count_1h: int
    tx_count_24h: int
    amount_sum_24h: float
    amount_mean_7d: Optional[float]
    amount_max_7d: Optional[float]
    distinct_merchants_24h: int
    declined_count_24h: int
    seconds_since_last_tx: Optional[float]
    amount_over_mean_7d: Optional[float]


def ieee_div(a: float, b: float) -> float:
    """a / b as IEEE 754 (and Rust) divide: Python raises on a zero divisor."""
    if b == 0.0:
        if a == 0.0 or a != a:
            return float("nan")
        negative = (math.copysign(1.0, a) < 0) != (math.copysign(1.0, b) < 0)
        return float("-inf") if negative else float("inf")
    return a / b


@transform(name="card-velocity", version="1.0.0")
def card_velocity(amount: Optional[float], velocity: Velocity) -> CardFeatures:
    """Velocity features of a card transaction: counts, sums and extremes
    of the card's transactions in the hour, day and week before it, and the
    amount against the card's weekly mean."""
    mean = velocity.amount_mean_7d
    return CardFeatures(
        velocity.tx_count_1h,
        velocity.tx_count_24h,
        velocity.amount_sum_24h,
        mean,
        velocity.amount_max_7d,
        velocity.distinct_merchants_24h,
        velocity.declined_count_24h,
        velocity.seconds_since_last_tx,
        None if amount is None or mean is None else ieee_div(amount, mean),
    )
