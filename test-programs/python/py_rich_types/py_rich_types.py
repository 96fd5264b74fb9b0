"""Echoes one column of every type contract 0.2.0 added: the Python twin of
the Rust `rich_types` test guest, column for column."""
import datetime
from dataclasses import dataclass
from typing import Optional

from skewless_guest import Decimal, Embedding, Float32, transform

Money = Decimal(18, 2)


@dataclass
class RichTypes:
    day: datetime.date
    amount: Money
    blob: bytes
    scores: list[Float32]
    tags: list[str]
    counts: list[Optional[int]]
    embedding: Embedding(4)
    nday: Optional[datetime.date]
    namount: Optional[Money]
    nblob: Optional[bytes]
    nscores: Optional[list[float]]
    ntags: Optional[list[str]]
    nembedding: Optional[Embedding(3, float)]


@transform(name="py-rich-types", version="0.1.0")
def rich_types(
    day: datetime.date,
    amount: Money,
    blob: bytes,
    scores: list[Float32],
    tags: list[str],
    counts: list[Optional[int]],
    embedding: Embedding(4),
    nday: Optional[datetime.date],
    namount: Optional[Money],
    nblob: Optional[bytes],
    nscores: Optional[list[float]],
    ntags: Optional[list[str]],
    nembedding: Optional[Embedding(3, float)],
) -> RichTypes:
    """Every type of contract 0.2.0, echoed."""
    return RichTypes(day, amount, blob, scores, tags, counts, embedding, nday, namount, nblob,
                     nscores, ntags, nembedding)
