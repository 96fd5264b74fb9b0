"""Rejects negative amounts by raising, on that row only."""
import math
from dataclasses import dataclass

from skewless_guest import transform


@dataclass
class Root:
    root: float


@transform(name="py-fails-row", version="0.1.0")
def root(amount: float) -> Root:
    """Square root of an amount."""
    if amount < 0:
        raise ValueError(f"amount must not be negative, got {amount}")
    return Root(math.sqrt(amount))
