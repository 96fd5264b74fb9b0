"""Feast on-demand feature views beside skewless, on this machine.

Defines the `fraud-features` transform as Feast on-demand feature views
(python mode and pandas mode) on a request source, and measures:

- Feast's single-row online latency (`FeatureStore.get_online_features`,
  in process) in both modes;
- `skewless serve` answering the same single-row request over HTTP, from
  this Python process (keep-alive connection, TCP_NODELAY);

then compares Feast's values with skewless's (`skewless run` on the same
rows) on the bundled sample transactions and on synthetic ones, feature by
feature, counting every difference in units in the last place. Writes JSON
that the Rust report renders beside its own measurement of the embedded API
(`Transform::call`), made in the same run.

Run by `bash benches/report.sh`; on its own:

    python compare.py --skewless target/release/skewless \
        --component target/wasm32-wasip2/release/fraud_features.wasm \
        --data examples/fraud-features/data/transactions.csv --out feast.json
"""

import argparse
import csv
import http.client
import json
import math
import os
import platform
import random
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

import feast
import pandas as pd
from feast import Entity, FeatureStore, Field, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64, String

FEATURES = ["log_amount", "is_night", "amount_bucket", "category_risk"]

transaction = RequestSource(
    name="transaction",
    schema=[
        Field(name="amount", dtype=Float64),
        Field(name="hour", dtype=Int64),
        Field(name="merchant_category", dtype=String),
    ],
)
OUTPUT_SCHEMA = [
    Field(name="log_amount", dtype=Float64),
    Field(name="is_night", dtype=Int64),
    Field(name="amount_bucket", dtype=Int64),
    Field(name="category_risk", dtype=Float64),
]


# Feast stores an ODFV's source and runs it on its own, so each function
# carries its imports and constants, as Feast's docs show.
@on_demand_feature_view(sources=[transaction], schema=OUTPUT_SCHEMA, mode="python")
def fraud_features_python(inputs: dict) -> dict:
    import math

    edges = [10.0, 50.0, 100.0, 500.0, 1000.0]
    risk = {"grocery": 0.1, "travel": 0.7, "electronics": 0.5, "gaming": 0.8}

    def bucket(amount):
        for i, edge in enumerate(edges):
            if amount < edge:
                return i
        return len(edges)

    return {
        "log_amount": [math.log(1.0 + a) for a in inputs["amount"]],
        "is_night": [1 if h < 6 or h >= 22 else 0 for h in inputs["hour"]],
        "amount_bucket": [bucket(a) for a in inputs["amount"]],
        "category_risk": [risk.get(c, 0.3) for c in inputs["merchant_category"]],
    }


@on_demand_feature_view(sources=[transaction], schema=OUTPUT_SCHEMA, mode="pandas")
def fraud_features_pandas(inputs: pd.DataFrame) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    edges = [10.0, 50.0, 100.0, 500.0, 1000.0]
    risk = {"grocery": 0.1, "travel": 0.7, "electronics": 0.5, "gaming": 0.8}
    out = pd.DataFrame()
    out["log_amount"] = np.log(1.0 + inputs["amount"])
    out["is_night"] = ((inputs["hour"] < 6) | (inputs["hour"] >= 22)).astype("int64")
    out["amount_bucket"] = np.searchsorted(edges, inputs["amount"].to_numpy(), side="right").astype("int64")
    out["category_risk"] = inputs["merchant_category"].map(risk).fillna(0.3).astype("float64")
    return out


def feature_store(directory):
    with open(os.path.join(directory, "feature_store.yaml"), "w") as f:
        f.write(
            "project: skewless_bench\n"
            "registry: data/registry.db\n"
            "provider: local\n"
            "online_store:\n"
            "  type: sqlite\n"
            "  path: data/online_store.db\n"
            "entity_key_serialization_version: 3\n"
        )
    os.makedirs(os.path.join(directory, "data"), exist_ok=True)
    store = FeatureStore(repo_path=directory)
    # A feature view needs an entity to be registered alongside; the ODFVs
    # themselves read only the request.
    store.apply([Entity(name="card", join_keys=["card_id"]), transaction, fraud_features_python, fraud_features_pandas])
    return store


def latencies(call, n, warmup=200):
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1000.0)
    samples.sort()
    return {
        "p50_us": samples[len(samples) // 2],
        "p99_us": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
        "n": n,
    }


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ulps(a, b):
    def key(x):
        bits = struct.unpack("<q", struct.pack("<d", x))[0]
        return -(2**63) - bits if bits < 0 else bits

    return abs(key(a) - key(b))


def compare_values(store, skewless, component, rows, directory, name):
    """Runs `rows` through Feast (both modes) and through `skewless run`,
    and counts the values that differ, per feature, in units in the last
    place."""
    feast_values = {mode: {name_: [] for name_ in FEATURES} for mode in ["python", "pandas"]}
    for mode in ["python", "pandas"]:
        refs = [f"fraud_features_{mode}:{f}" for f in FEATURES]
        for start in range(0, len(rows), 10_000):
            chunk = store.get_online_features(features=refs, entity_rows=rows[start : start + 10_000]).to_dict()
            for feature in FEATURES:
                feast_values[mode][feature].extend(chunk[feature])
    data = os.path.join(directory, f"{name}.csv")
    with open(data, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["amount", "hour", "merchant_category"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "amount": repr(row["amount"])})
    output = os.path.join(directory, f"{name}-skewless.csv")
    subprocess.run(
        [skewless, "run", component, "--input", data, "--output", output, "--quiet", "--no-cache"],
        check=True,
    )
    with open(output, newline="") as f:
        ours = list(csv.DictReader(f))
    comparison = {}
    for mode in ["python", "pandas"]:
        per_feature = {}
        for feature in FEATURES:
            differing, worst, examples = 0, 0, []
            for i, (theirs_value, our_row) in enumerate(zip(feast_values[mode][feature], ours)):
                mine, theirs = float(our_row[feature]), float(theirs_value)
                if struct.pack("<d", mine) != struct.pack("<d", theirs):
                    differing += 1
                    distance = ulps(mine, theirs)
                    worst = max(worst, distance)
                    if len(examples) < 3:
                        examples.append({"row": i, "amount": rows[i]["amount"], "feast": theirs, "skewless": mine, "ulps": distance})
            per_feature[feature] = {"differing": differing, "max_ulps": worst, "examples": examples}
        comparison[mode] = per_feature
    return {"rows": len(rows), "features": comparison}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skewless", required=True)
    parser.add_argument("--component", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--extra-rows", type=int, default=200_000, help="synthetic transactions for the value comparison")
    parser.add_argument("--out", required=True, help="JSON results, read by the Rust report")
    args = parser.parse_args()

    row = {"amount": 12.5, "hour": 3, "merchant_category": "travel"}
    results = {
        "feast_version": feast.__version__,
        "python_version": platform.python_version(),
        "pandas_version": pd.__version__,
        "latency": {},
    }
    with tempfile.TemporaryDirectory() as repo:
        store = feature_store(repo)
        for mode in ["python", "pandas"]:
            refs = [f"fraud_features_{mode}:{name}" for name in FEATURES]
            answer = store.get_online_features(features=refs, entity_rows=[dict(row)]).to_dict()
            assert abs(answer["log_amount"][0] - math.log(13.5)) < 1e-12, answer
            results["latency"][f"feast_{mode}"] = latencies(
                lambda: store.get_online_features(features=refs, entity_rows=[dict(row)]).to_dict(),
                args.requests // (5 if mode == "pandas" else 1),
            )
            print(f"feast {mode}: {results['latency'][f'feast_{mode}']}", file=sys.stderr)

        # The same transform, the same request, through skewless serve.
        port = free_port()
        server = subprocess.Popen(
            [args.skewless, "serve", args.component, "--addr", f"127.0.0.1:{port}", "--no-cache"],
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            for line in server.stderr:
                if line.startswith("listening on"):
                    break
            connection = http.client.HTTPConnection("127.0.0.1", port)
            connection.connect()
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            body = json.dumps({"rows": [row]})

            def serve_call():
                connection.request("POST", "/v1/transforms/fraud-features", body)
                response = connection.getresponse()
                data = response.read()
                assert response.status == 200, data
                return data

            results["latency"]["skewless_serve_http"] = latencies(serve_call, args.requests)
            print(f"skewless serve: {results['latency']['skewless_serve_http']}", file=sys.stderr)
        finally:
            server.terminate()
            server.wait()

        # Values: the bundled sample, and many more synthetic transactions.
        with open(args.data, newline="", encoding="utf-8") as f:
            sample = [
                {"amount": float(r["amount"]), "hour": int(r["hour"]), "merchant_category": r["merchant_category"]}
                for r in csv.DictReader(f)
            ]
        results["sample"] = compare_values(store, args.skewless, args.component, sample, repo, "sample")
        generator = random.Random(20261126)
        categories = ["grocery", "travel", "electronics", "gaming", "fuel", "restaurants"]
        synthetic = [
            {
                "amount": round(math.exp(generator.uniform(0.0, 9.0)), 2),
                "hour": generator.randrange(24),
                "merchant_category": generator.choice(categories),
            }
            for _ in range(args.extra_rows)
        ]
        results["synthetic"] = compare_values(store, args.skewless, args.component, synthetic, repo, "synthetic")
        print(f"values: {json.dumps(results['synthetic'])[:400]}", file=sys.stderr)

    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
