"""Feast serving precomputed aggregates, as its users run it today, beside
skewless's served aggregations (`cargo run --release -p skewless-benches
--bin online`).

A Feast user computes card-velocity aggregates in a stream job of their own
(Spark, Flink: a second engine) and pushes the values into the online store;
requests read them back. This measures Feast's part of that on this
machine: `FeatureStore.push(..., to=PushMode.ONLINE)` of the nine
card-velocity values for batches of cards (rows/s; each row is one card's
aggregates, already computed), and `get_online_features` for one card, in
process (p50/p99). Local provider, SQLite online store, Feast 0.67.0.

    target/feast-venv/bin/python benches/feast/online_aggregates.py --cards 100000 --out feast-online.json
"""

import argparse
import json
import os
import random
import tempfile
import time
from datetime import datetime, timedelta, timezone

import pandas as pd
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, PushSource, ValueType
from feast.data_source import PushMode
from feast.types import Float64, Int64

FEATURES = [
    ("tx_count_1h", Int64),
    ("tx_count_24h", Int64),
    ("amount_sum_24h", Float64),
    ("amount_mean_7d", Float64),
    ("amount_max_7d", Float64),
    ("distinct_merchants_24h", Int64),
    ("declined_count_24h", Int64),
    ("seconds_since_last_tx", Float64),
    ("amount_over_mean_7d", Float64),
]


def card(key):
    return f"card-{key:06}"


def store_in(directory):
    data = os.path.join(directory, "data")
    os.makedirs(data, exist_ok=True)
    with open(os.path.join(directory, "feature_store.yaml"), "w") as f:
        f.write(
            "project: skewless_online_bench\n"
            "registry: data/registry.db\n"
            "provider: local\n"
            "online_store:\n"
            "  type: sqlite\n"
            "  path: data/online_store.db\n"
            "entity_key_serialization_version: 3\n"
        )
    offline = os.path.join(data, "card_velocity.parquet")
    rows = aggregates(0, 1, random.Random(0))
    rows.to_parquet(offline)
    card_entity = Entity(name="card", join_keys=["card_id"], value_type=ValueType.STRING)
    batch = FileSource(path=offline, timestamp_field="event_timestamp")
    push = PushSource(name="card_velocity_push", batch_source=batch)
    view = FeatureView(
        name="card_velocity",
        entities=[card_entity],
        ttl=timedelta(days=7),
        schema=[Field(name=name, dtype=dtype) for name, dtype in FEATURES],
        source=push,
        online=True,
    )
    store = FeatureStore(repo_path=directory)
    store.apply([card_entity, batch, push, view])
    return store


def aggregates(first, count, rng):
    now = datetime.now(timezone.utc)
    rows = {"card_id": [card(k) for k in range(first, first + count)],
            "event_timestamp": [now] * count}
    for name, dtype in FEATURES:
        if dtype == Int64:
            rows[name] = [rng.randrange(0, 50) for _ in range(count)]
        else:
            rows[name] = [rng.random() * 1000.0 for _ in range(count)]
    return pd.DataFrame(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--queries", type=int, default=5_000)
    parser.add_argument("--out")
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as directory:
        store = store_in(directory)
        frames = [aggregates(first, min(args.batch, args.cards - first), rng)
                  for first in range(0, args.cards, args.batch)]
        started = time.perf_counter()
        for frame in frames:
            store.push("card_velocity_push", frame, to=PushMode.ONLINE)
        push_rate = args.cards / (time.perf_counter() - started)
        features = [f"card_velocity:{name}" for name, _ in FEATURES]
        keys = [card(rng.randrange(args.cards)) for _ in range(args.queries)]
        check = store.get_online_features(features=features,
                                           entity_rows=[{"card_id": keys[0]}]).to_dict()
        assert check["tx_count_1h"][0] is not None, check
        for key in keys[:200]:
            store.get_online_features(features=features, entity_rows=[{"card_id": key}]).to_dict()
        samples = []
        for key in keys:
            start = time.perf_counter_ns()
            store.get_online_features(features=features, entity_rows=[{"card_id": key}]).to_dict()
            samples.append((time.perf_counter_ns() - start) / 1000.0)
        samples.sort()
        result = {
            "feast": __import__("feast").__version__,
            "cards": args.cards,
            "push_rows_per_s": push_rate,
            "get_online_features_p50_us": samples[len(samples) // 2],
            "get_online_features_p99_us": samples[int(len(samples) * 0.99)],
        }
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
