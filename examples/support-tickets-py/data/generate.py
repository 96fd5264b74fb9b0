"""Generates sample.csv: support ticket subjects as customers write them
(several languages, capitals, order numbers in many spellings), opened over
two weeks at all hours. Deterministic: `python3 generate.py` always writes
the same file."""
import csv
import random
from datetime import datetime, timedelta, timezone

random.seed(20261202)

SUBJECTS = [
    "Where is my order #{order}?",
    "URGENT: charged twice for order {order}",
    "Refund not received (ord: {order})",
    "Can't log in",
    "Ma commande {order} est arrivée abîmée",
    "Bestellung {order} fehlt – dringend!",
    "PLEASE HELP ASAP",
    "Pedido {order} no llegó, urgente",
    "Question about invoice",
    "café machine broken, order #{order}",
    "配送が遅れています 注文{order}",
    "Change shipping address",
    "Thanks! 🎉",
    "???",
    "wrong size, need exchange",
]

start = datetime(2026, 3, 2, tzinfo=timezone.utc)
with open("sample.csv", "w", newline="", encoding="utf-8") as out:
    writer = csv.writer(out)
    writer.writerow(["ticket_id", "subject", "opened_at"])
    for i in range(240):
        subject = random.choice(SUBJECTS).format(order=random.randrange(10**5, 10**8))
        opened = start + timedelta(seconds=random.randrange(14 * 86400))
        writer.writerow([f"t-{i:04d}", subject, opened.strftime("%Y-%m-%dT%H:%M:%SZ")])
