"""Generates subjects.jsonl: email subject lines of the kinds an inbox sees
(work threads, receipts, newsletters, promotions, phishing), with a label,
including unrendered merge tags, emoji, shouting, and non-English text.

Deterministic: `python3 generate.py` always writes the same file.
"""
import json
import random

random.seed(42)

HAM = [
    "Re: Q3 planning meeting", "Fwd: updated contract draft", "Lunch on Thursday?",
    "Re: Re: staging deploy failed again", "Notes from today's standup",
    "Your flight to Lisbon is confirmed", "Invoice #48213 from Acme Hosting",
    "Your order has shipped", "Password changed", "Reminder: dentist appointment tomorrow at 9:30",
    "Photos from the weekend", "Re: kitchen renovation quote", "Team offsite — agenda attached",
    "Ihre Bestellung wurde versandt", "Reunión del lunes: cambio de sala", "会議の議事録",
    "Re: résumé for the data engineer role", "Happy birthday, Anna!", "",
    "Monthly statement available", "Build #1432 passed", "Pull request review requested: fix flaky test",
]
PROMO = [
    "🔥 Flash sale: 50% off everything!", "Last chance: free shipping ends tonight",
    "*|FNAME|*, your exclusive offer is inside", "New arrivals you'll love 👗",
    "Hi {{first_name}}, we saved your cart", "Weekend deals are here ☀️",
    "Your March newsletter", "Don't miss out — 3 days left!", "Only for you, %%FirstName%%: 20% off",
    "The spring collection has landed 🌸", "Members get early access", "Black Friday starts NOW!!!",
    "🎁 A gift for you", "Webinar: scaling feature stores in 2026", "We miss you! Come back for 15% off",
]
SPAM = [
    "URGENT: VERIFY YOUR ACCOUNT NOW!!!", "You have WON a $1000 gift card!!!",
    "Your package could not be delivered ⚠️", "Final notice: unpaid invoice", "RE: your payment",
    "Congratulations!!! You are selected", "Act now: your mailbox is full",
    "💰💰 Make money from home 💰💰", "Security alert: unusual sign-in", "Dear *|FNAME|*, claim your prize",
    "FREE iPhone 17 — LIMITED OFFER", "Invoice overdue!!",
]

rows = []
for i in range(240):
    label = random.choices(["ham", "promo", "spam"], weights=[5, 3, 2])[0]
    subject = random.choice({"ham": HAM, "promo": PROMO, "spam": SPAM}[label])
    rows.append({"message_id": f"<{i + 1:05d}.mail@example.com>", "subject": subject, "label": label})

with open("subjects.jsonl", "w", encoding="utf-8") as f:
    for row in rows:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
print(f"{len(rows)} subjects")
