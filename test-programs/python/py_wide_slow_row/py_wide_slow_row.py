"""Forty float outputs a row, cheap, except x == 2999, which loops for a
long time: the host runs the batch again one row at a time to find it, and
storing forty columns a row must fit the batch's own budget."""
from dataclasses import make_dataclass

from skewless_guest import transform

Wide = make_dataclass("Wide", [(f"y{i}", float) for i in range(40)])


@transform(name="py-wide-slow-row", version="0.1.0")
def wide(x: int) -> Wide:
    """x + i for i in 0..40, slowly when x is 2999."""
    if x == 2999:
        total = 0
        for i in range(10**9):
            total += i
    return Wide(*[x + float(i) for i in range(40)])
