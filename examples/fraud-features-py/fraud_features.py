"""Fraud-scoring features from a card transaction: the Python twin of
`examples/fraud-features`, computing the same bits.

Build: `skewless build examples/fraud-features-py`, then
`skewless run examples/fraud-features-py/target/fraud_features.wasm
--input examples/fraud-features-py/data/transactions.csv --output features.parquet`.
"""

import math
from dataclasses import dataclass

from skewless_guest import transform

#: Upper edges of the amount buckets: bucket `i` holds amounts below
#: `AMOUNT_EDGES[i]`, and bucket 5 everything from 1000 up.
AMOUNT_EDGES = (10.0, 50.0, 100.0, 500.0, 1000.0)

#: Fraud risk by merchant category; 0.3 for categories not listed.
CATEGORY_RISK = {"grocery": 0.1, "travel": 0.7, "electronics": 0.5, "gaming": 0.8}


@dataclass
class FraudFeatures:
    """The features of one transaction."""

    log_amount: float
    is_night: int
    amount_bucket: int
    category_risk: float


def ln(x: float) -> float:
    """The natural logarithm, with IEEE 754's answers where `math.log`
    raises: -inf at zero and NaN below it (as C's `log`, and Rust's `ln`)."""
    if x > 0 or x != x:
        return math.log(x)
    return -math.inf if x == 0 else math.nan


@transform(name="fraud-features", version="1.0.0")
def fraud(amount: float, hour: int, merchant_category: str) -> FraudFeatures:
    """Fraud-scoring features from a card transaction: the log of the amount,
    whether it happened at night, its amount bucket, and the fraud risk of
    the merchant category."""
    return FraudFeatures(
        log_amount=ln(1.0 + amount),
        is_night=int(not 6 <= hour < 22),
        amount_bucket=next(
            (i for i, edge in enumerate(AMOUNT_EDGES) if amount < edge), len(AMOUNT_EDGES)
        ),
        category_risk=CATEGORY_RISK.get(merchant_category, 0.3),
    )
