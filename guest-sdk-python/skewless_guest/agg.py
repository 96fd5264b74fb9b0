"""The aggregate functions, for the annotations of an
:func:`skewless_guest.aggregates` class::

    tx_count_1h: Annotated[int, agg.count(window="1h")]
    declined_24h: Annotated[int, agg.count(window="24h", filter="declined")]
    amount_sum_24h: Annotated[float, agg.sum("amount", window="24h")]
    last_merchants: Annotated[list[str], agg.last_n("merchant", 3, window="7d")]

An event counts for a request at ``t`` in a window ``W`` when ``t - W <=
time < t``; ``filter`` names a bool event value that must be true. A null
value is skipped by every function of a value (``count(value)`` counts
values that are not null). See the README's "Aggregations".
"""

from __future__ import annotations

from typing import Optional

from . import Aggregate, SpecError, _duration

__all__ = ["count", "sum", "mean", "min", "max", "count_distinct", "first", "last",
           "seconds_since_last", "last_n"]


def _make(function: str, value: Optional[str], window: str, filter: Optional[str], n: int = 0):
    if value is not None and not isinstance(value, str):
        raise SpecError(f"`agg.{function}` reads an event value by its name: a str, not {value!r}")
    return Aggregate(function, value, filter, _duration(window, "window"), n)


def count(value: Optional[str] = None, *, window: str, filter: Optional[str] = None) -> Aggregate:
    """Events in the window (with ``value``: events whose value is not null). An int."""
    return _make("count", value, window, filter)


def sum(value: str, *, window: str, filter: Optional[str] = None) -> Aggregate:  # noqa: A001
    """The exact sum of the values: an int for ints, a float (rounded once) for floats."""
    return _make("sum", value, window, filter)


def mean(value: str, *, window: str, filter: Optional[str] = None) -> Aggregate:
    """The exact sum, rounded once, over the count of values; None when none."""
    return _make("mean", value, window, filter)


def min(value: str, *, window: str, filter: Optional[str] = None) -> Aggregate:  # noqa: A001
    """The least value (floats by IEEE totalOrder); None when none."""
    return _make("min", value, window, filter)


def max(value: str, *, window: str, filter: Optional[str] = None) -> Aggregate:  # noqa: A001
    """The greatest value (floats by IEEE totalOrder); None when none."""
    return _make("max", value, window, filter)


def count_distinct(value: str, *, window: str, filter: Optional[str] = None) -> Aggregate:
    """Distinct values (floats by their bits). An int."""
    return _make("count_distinct", value, window, filter)


def first(value: str, *, window: str, filter: Optional[str] = None) -> Aggregate:
    """The value of the earliest event; None when none."""
    return _make("first", value, window, filter)


def last(value: str, *, window: str, filter: Optional[str] = None) -> Aggregate:
    """The value of the latest event; None when none."""
    return _make("last", value, window, filter)


def seconds_since_last(*, window: str, filter: Optional[str] = None) -> Aggregate:
    """Seconds from the latest event to the request's time; None when none."""
    return _make("seconds_since_last", None, window, filter)


def last_n(value: str, n: int, *, window: str, filter: Optional[str] = None) -> Aggregate:
    """The values of the latest ``n`` events, oldest first: a list."""
    if not (isinstance(n, int) and n > 0):
        raise SpecError(f"`agg.last_n` keeps a positive number of values, not {n!r}")
    return _make("last_n", value, window, filter, n)
