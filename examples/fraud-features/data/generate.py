"""Generates transactions.csv: synthetic card transactions shaped like a
real card-processor export (heavy-tailed amounts per merchant category,
daily activity cycle, rare fraud concentrated at night in risky categories).

Deterministic: `python3 generate.py` always writes the same file.
"""
import csv
import math
import random
from datetime import datetime, timedelta, timezone

random.seed(20261126)

CATEGORIES = [
    # name, weight, median amount, spread (lognormal sigma), fraud lift
    ("grocery", 30, 38.0, 0.6, 0.3),
    ("restaurants", 18, 31.0, 0.6, 0.5),
    ("fuel", 12, 48.0, 0.35, 0.8),
    ("online_retail", 12, 62.0, 0.9, 1.5),
    ("pharmacy", 6, 22.0, 0.7, 0.4),
    ("apparel", 6, 74.0, 0.8, 1.2),
    ("electronics", 6, 240.0, 1.0, 3.0),
    ("travel", 5, 310.0, 0.9, 3.5),
    ("gaming", 5, 24.0, 1.1, 4.0),
]
MERCHANTS = {
    "grocery": ["Whole Harvest", "FreshMart", "Corner Grocer", "Aldi Süd"],
    "restaurants": ["Luigi's Trattoria", "Pho Saigon", "Burger Barn", "Café Olé"],
    "fuel": ["Shell", "BP", "Chevron"],
    "online_retail": ["Amazon Marketplace", "Etsy", "Zalando"],
    "pharmacy": ["CVS Pharmacy", "Walgreens", "Boots"],
    "apparel": ["Uniqlo", "H&M", "Nordstrom"],
    "electronics": ["Best Buy", "MediaMarkt", "Apple Store"],
    "travel": ["Delta Air Lines", "Booking.com", "Marriott", "Lufthansa"],
    "gaming": ["Steam", "PlayStation Store", "Xbox Live", "Roblox"],
}
# Relative activity by hour of day (UTC, the processor's clock).
HOURLY = [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 3.5, 4, 4.2, 4.8,
          5.5, 5.2, 4.6, 4.4, 4.8, 5.6, 6.2, 5.8, 4.6, 3.4, 2.4, 1.6]

start = datetime(2026, 3, 2, tzinfo=timezone.utc)
rows = []
names, weights = zip(*[(c[0], c[1]) for c in CATEGORIES])
by_name = {c[0]: c for c in CATEGORIES}
for i in range(2000):
    day = random.randrange(14)
    hour = random.choices(range(24), weights=HOURLY)[0]
    when = start + timedelta(days=day, hours=hour, minutes=random.randrange(60), seconds=random.randrange(60))
    category = random.choices(names, weights=weights)[0]
    _, _, median, sigma, lift = by_name[category]
    amount = round(median * math.exp(random.gauss(0, sigma)), 2)
    night = hour < 6 or hour >= 22
    p_fraud = 0.004 * lift * (3.0 if night else 1.0) * (2.0 if amount > 500 else 1.0)
    is_fraud = int(random.random() < p_fraud)
    if is_fraud and random.random() < 0.5:
        amount = round(amount * random.uniform(2, 6), 2)
    rows.append({
        "transaction_id": f"tx_{i + 1:06d}",
        "card_id": f"card_{random.randrange(1, 401):04d}",
        "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "amount": f"{amount:.2f}",
        "hour": hour,
        "merchant_category": category,
        "merchant_name": random.choice(MERCHANTS[category]),
        "is_fraud": is_fraud,
    })
rows.sort(key=lambda r: r["timestamp"])
for i, row in enumerate(rows):
    row["transaction_id"] = f"tx_{i + 1:06d}"
with open("transactions.csv", "w", newline="", encoding="utf-8") as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
print(f"{len(rows)} transactions, {sum(r['is_fraud'] for r in rows)} fraudulent")
