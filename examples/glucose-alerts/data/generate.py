"""Generates readings.csv: synthetic continuous glucose monitor (CGM)
readings every 5 minutes for three people over one day, shaped like a CGM
export: meal spikes, a correction bolus, an overnight low, sensor gaps, and
the first reading of each sensor session without a previous reading.

Deterministic: `python3 generate.py` always writes the same file.
"""
import csv
import math
import random
from datetime import datetime, timedelta, timezone

random.seed(7)
start = datetime(2026, 3, 2, tzinfo=timezone.utc)

PEOPLE = {
    # id: baseline mg/dL, meals (hour, rise mg/dL), overnight dip (hour, depth)
    "p-001": (105, [(7.5, 70), (12.5, 60), (19.0, 80)], None),
    "p-002": (140, [(8.0, 110), (13.0, 95), (20.0, 120)], None),
    "p-003": (98, [(7.0, 55), (12.0, 65), (18.5, 70)], (3.0, 45)),
}


def level(base, meals, dip, hours):
    value = base
    for at, rise in meals:
        t = hours - at
        if t > 0:
            # Rises over ~45 minutes, decays over ~2.5 hours.
            value += rise * (1 - math.exp(-t / 0.35)) * math.exp(-t / 1.6)
    if dip:
        at, depth = dip
        value -= depth * math.exp(-((hours - at) ** 2) / 0.8)
    return value


rows = []
for person, (base, meals, dip) in PEOPLE.items():
    previous = None
    previous_at = None
    for step in range(288):
        at = start + timedelta(minutes=5 * step)
        if random.random() < 0.03:
            continue  # a missed reading: the next one is 10+ minutes later
        if step == 150 and person == "p-002":
            previous, previous_at = None, None  # sensor changed: new session
        hours = step / 12
        glucose = round(level(base, meals, dip, hours) + random.gauss(0, 3), 1)
        rows.append({
            "patient_id": person,
            "read_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "glucose_mg_dl": f"{glucose:.1f}",
            "previous_mg_dl": "" if previous is None else f"{previous:.1f}",
            "minutes_since_previous": "" if previous_at is None
            else f"{(at - previous_at).total_seconds() / 60:.1f}",
        })
        previous, previous_at = glucose, at

with open("readings.csv", "w", newline="", encoding="utf-8") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
print(f"{len(rows)} readings")
