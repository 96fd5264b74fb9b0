"""Recursion in C, not in Python: `repr` of lists nested `depth` deep,
with Python's recursion limit lifted. What stops it is the interpreter's
own stack check or, failing that, the wasm stack."""
import sys
from dataclasses import dataclass

from skewless_guest import transform


@dataclass
class Out:
    length: int


@transform(name="py-stack", version="0.1.0")
def overflow(depth: int) -> Out:
    """The length of a deeply nested list's repr."""
    sys.setrecursionlimit(10**8)
    nested = []
    for _ in range(depth):
        nested = [nested]
    return Out(len(repr(nested)))
