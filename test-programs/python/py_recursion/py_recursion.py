"""Recurses `depth` levels: past Python's limit, a RecursionError."""
from dataclasses import dataclass

from skewless_guest import transform


@dataclass
class Out:
    depth: int


def down(n: int) -> int:
    return 0 if n == 0 else 1 + down(n - 1)


@transform(name="py-recursion", version="0.1.0")
def recurse(depth: int) -> Out:
    """How deep it got."""
    return Out(down(depth))
