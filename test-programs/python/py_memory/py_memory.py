"""Allocates `megabytes` MiB per row; -1 grows without end."""
from dataclasses import dataclass

from skewless_guest import transform


@dataclass
class Out:
    held: int


@transform(name="py-memory", version="0.1.0")
def hog(megabytes: int) -> Out:
    """Holds memory."""
    if megabytes < 0:
        chunks = []
        while True:
            chunks.append(bytearray(64 << 20))
    return Out(len(bytearray(megabytes << 20)))
