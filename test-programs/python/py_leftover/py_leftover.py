"""Keeps what each row sent in a module global and a class attribute, and
answers what an earlier row left there: a probe for state that outlives a
call."""
from dataclasses import dataclass

from skewless_guest import transform

_seen: list[str] = []


class _Cache:
    last = ""


@dataclass
class Leftover:
    in_global: str
    in_class: str


@transform(name="py-leftover", version="0.1.0")
def leftover(secret: str) -> Leftover:
    """What earlier rows left in a global and a class attribute."""
    found = Leftover(_seen[-1] if _seen else "", _Cache.last)
    _seen.append(secret)
    _Cache.last = secret
    return found
