"""Echoes one column of every type, without and with nulls: the Python
twin of the Rust `all_types` test guest, column for column."""
import datetime
from dataclasses import dataclass
from typing import Optional

from skewless_guest import Float32, Int32, transform


@dataclass
class AllTypes:
    b: bool
    i: Int32
    l: int
    f: Float32
    d: float
    s: str
    t: datetime.datetime
    nb: Optional[bool]
    ni: Optional[Int32]
    nl: Optional[int]
    nf: Optional[Float32]
    nd: Optional[float]
    ns: Optional[str]
    nt: Optional[datetime.datetime]


@transform(name="py-all-types", version="0.1.0")
def all_types(
    b: bool,
    i: Int32,
    l: int,
    f: Float32,
    d: float,
    s: str,
    t: datetime.datetime,
    nb: Optional[bool],
    ni: Optional[Int32],
    nl: Optional[int],
    nf: Optional[Float32],
    nd: Optional[float],
    ns: Optional[str],
    nt: Optional[datetime.datetime],
) -> AllTypes:
    """Every column type, echoed."""
    return AllTypes(b, i, l, f, d, s, t, nb, ni, nl, nf, nd, ns, nt)
