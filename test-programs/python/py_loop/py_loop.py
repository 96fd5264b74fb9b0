"""Never returns: the per-row CPU budget (fuel) must stop it."""
from dataclasses import dataclass

from skewless_guest import transform


@dataclass
class Out:
    y: int


@transform(name="py-loop", version="0.1.0")
def spin(x: int) -> Out:
    """Loops forever."""
    while True:
        x += 1
