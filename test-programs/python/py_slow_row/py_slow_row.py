"""Cheap rows, except x == 13, which loops for a long time."""
from dataclasses import dataclass

from skewless_guest import transform


@dataclass
class Out:
    y: int


@transform(name="py-slow-row", version="0.1.0")
def slow(x: int) -> Out:
    """x, slowly when x is 13."""
    if x == 13:
        total = 0
        for i in range(10**9):
            total += i
        return Out(total)
    return Out(x)
