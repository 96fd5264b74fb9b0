"""Triage features of a support ticket, from its subject line and when it
was opened: the kind of transform Python authors write with the standard
library (`re`, `unicodedata`, `datetime`).

Build: `skewless build examples/support-tickets-py` (verifies it on
`data/sample.csv`), then `skewless serve
examples/support-tickets-py/target/support_tickets.wasm`.
"""

import datetime
import re
import unicodedata
from dataclasses import dataclass
from typing import Optional

from skewless_guest import transform

ORDER_NUMBER = re.compile(
    r"(?:\border|\bord|\bcommande|\bbestellung|\bpedido|注文|#)\s*[:#]?\s*(\d{5,10})\b", re.IGNORECASE
)
URGENT = re.compile(r"\b(urgent|asap|immediately|emergency|dringend|urgente)\b", re.IGNORECASE)
WORD = re.compile(r"\w+", re.UNICODE)

# Business hours of the support desk, in UTC: weekdays, 08:00 to 18:00.
OPENS, CLOSES = datetime.time(8), datetime.time(18)


@dataclass
class TicketFeatures:
    """The features of one ticket."""

    words: int
    shouting: float
    urgent: bool
    order_number: Optional[str]
    ascii_subject: str
    iso_week: int
    weekday: int
    business_hours: bool


def folded(text: str) -> str:
    """`text` without accents and in lower case: "Café Olé" -> "cafe ole"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@transform(name="support-tickets", version="1.0.0")
def triage(subject: str, opened_at: datetime.datetime) -> TicketFeatures:
    """Triage features of a support ticket: how many words its subject has,
    how much of it is in capitals, whether it asks for urgency, the order
    number it mentions, the subject folded to ASCII, and the ISO week, the
    weekday and whether it was opened in business hours (UTC)."""
    letters = [c for c in subject if c.isalpha()]
    order = ORDER_NUMBER.search(subject)
    year, week, weekday = opened_at.isocalendar()
    return TicketFeatures(
        words=len(WORD.findall(subject)),
        shouting=sum(c.isupper() for c in letters) / len(letters) if letters else 0.0,
        urgent=URGENT.search(folded(subject)) is not None,
        order_number=order.group(1) if order else None,
        ascii_subject=folded(subject).encode("ascii", "ignore").decode("ascii"),
        iso_week=week,
        weekday=weekday,
        business_hours=weekday <= 5 and OPENS <= opened_at.time() < CLOSES,
    )
