"""Feast on-demand feature views beside skewless, on this machine.

Defines the `fraud-features` transform as Feast on-demand feature views
(python mode and pandas mode) on a request source, and measures, in one run:

- Feast's single-row online latency (`FeatureStore.get_online_features`,
  in process) in both modes;
- `skewless serve` answering the same single-row request over HTTP, from
  this Python process (keep-alive connection);
- the skewless embedded API (`Transform::call`, in process), measured by the
  Rust report binary and passed in with --embedded-json.

Then it compares Feast's values with skewless's on the bundled sample
transactions, feature by feature, and reports every difference in units in
the last place. Writes a Markdown section for BENCHMARKS.md.

Run by `bash benches/report.sh`; on its own:

    python compare.py --skewless target/release/skewless \
        --component target/wasm32-wasip2/release/fraud_features.wasm \
        --data examples/fraud-features/data/transactions.csv \
        --embedded-json embedded.json --out feast.md
"""

import argparse
import csv
import http.client
import json
import math
import os
import platform
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skewless", required=True)
    parser.add_argument("--component", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--embedded-json", help="the Rust report's embedded latency for fraud-features")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    row = {"amount": 12.5, "hour": 3, "merchant_category": "travel"}
    results = {}
    with tempfile.TemporaryDirectory() as repo:
        store = feature_store(repo)
        for mode in ["python", "pandas"]:
            refs = [f"fraud_features_{mode}:{name}" for name in FEATURES]
            answer = store.get_online_features(features=refs, entity_rows=[dict(row)]).to_dict()
            assert abs(answer["log_amount"][0] - math.log(13.5)) < 1e-12, answer
            results[f"feast_{mode}"] = latencies(
                lambda: store.get_online_features(features=refs, entity_rows=[dict(row)]).to_dict(),
                args.requests // (5 if mode == "pandas" else 1),
            )
            print(f"feast {mode}: {results[f'feast_{mode}']}", file=sys.stderr)

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
            body = json.dumps({"rows": [row]})

            def serve_call():
                connection.request("POST", "/v1/transforms/fraud-features", body)
                response = connection.getresponse()
                data = response.read()
                assert response.status == 200, data
                return data

            results["skewless_serve_http"] = latencies(serve_call, args.requests)
            print(f"skewless serve: {results['skewless_serve_http']}", file=sys.stderr)
        finally:
            server.terminate()
            server.wait()

        # Values: every sample transaction through Feast (python and
        # pandas) and through `skewless run`, compared bit by bit.
        with open(args.data, newline="", encoding="utf-8") as f:
            rows = [
                {"amount": float(r["amount"]), "hour": int(r["hour"]), "merchant_category": r["merchant_category"]}
                for r in csv.DictReader(f)
            ]
        feast_values = {}
        for mode in ["python", "pandas"]:
            refs = [f"fraud_features_{mode}:{name}" for name in FEATURES]
            feast_values[mode] = store.get_online_features(features=refs, entity_rows=rows).to_dict()
        skewless_csv = os.path.join(repo, "skewless.csv")
        subprocess.run(
            [args.skewless, "run", args.component, "--input", args.data, "--output", skewless_csv, "--quiet", "--no-cache"],
            check=True,
        )
        with open(skewless_csv, newline="") as f:
            ours = list(csv.DictReader(f))

    comparison = {}
    for mode in ["python", "pandas"]:
        per_feature = {}
        for name in FEATURES:
            differing, worst, examples = 0, 0, []
            for i, (theirs_value, our_row) in enumerate(zip(feast_values[mode][name], ours)):
                mine = float(our_row[name])
                theirs = float(theirs_value)
                if struct.pack("<d", mine) != struct.pack("<d", theirs):
                    differing += 1
                    distance = ulps(mine, theirs)
                    worst = max(worst, distance)
                    if len(examples) < 3:
                        examples.append((i, rows[i]["amount"], theirs, mine, distance))
            per_feature[name] = {"differing": differing, "max_ulps": worst, "examples": examples}
        comparison[mode] = per_feature

    embedded = None
    if args.embedded_json and os.path.exists(args.embedded_json):
        with open(args.embedded_json) as f:
            embedded = json.load(f)

    write_markdown(args, results, embedded, comparison, len(rows))


def write_markdown(args, results, embedded, comparison, rows):
    lines = []
    lines.append(
        f"`fraud-features` written as Feast {feast.__version__} on-demand feature views on a request "
        f"source (python mode and pandas mode; local provider, SQLite online store), beside skewless "
        f"serving the component, measured in this run of the report on this machine. Feast's latency "
        f"is `FeatureStore.get_online_features(...).to_dict()` in process for one request row "
        f"(Python {platform.python_version()}, pandas {pd.__version__}); skewless serve is one "
        f"single-row HTTP request from the same Python process over a keep-alive connection; the "
        f"embedded API is `Transform::call` on a one-row batch, in process, from the Rust report.\n"
    )
    lines.append("| path | p50 | p99 | p50 vs skewless embedded |")
    lines.append("|---|---:|---:|---:|")
    base = embedded["p50_us"] if embedded else None

    def row(name, r):
        ratio = f"{r['p50_us'] / base:.0f}x" if base else "n/a"
        lines.append(f"| {name} | {r['p50_us']:.1f} µs | {r['p99_us']:.1f} µs | {ratio} |")

    row("Feast ODFV, python mode", results["feast_python"])
    row("Feast ODFV, pandas mode", results["feast_pandas"])
    row("skewless serve (HTTP from Python)", results["skewless_serve_http"])
    if embedded:
        row("skewless embedded (`Transform::call`)", embedded)
    lines.append("")
    lines.append(
        f"**Values.** All {rows} sample transactions through Feast and through `skewless run` "
        f"(the component, as a backfill writes it), compared bit for bit:\n"
    )
    lines.append("| Feast mode | feature | rows differing | most units in the last place |")
    lines.append("|---|---|---:|---:|")
    for mode, features in comparison.items():
        for name, c in features.items():
            lines.append(f"| {mode} | {name} | {c['differing']} | {c['max_ulps']} |")
    lines.append("")
    examples = [e for mode in comparison for e in comparison[mode]["log_amount"]["examples"]]
    if examples:
        lines.append("Examples of `log_amount` differences (Feast, skewless):\n")
        for i, amount, theirs, mine, distance in examples[:4]:
            lines.append(f"- row {i}, amount {amount}: Feast `{theirs!r}`, skewless `{mine!r}` ({distance} ulp)")
        lines.append("")
    lines.append(
        "Python's `math.log` and numpy's `log` come from the host's math libraries; the component "
        "carries its own `ln`, compiled into the WebAssembly. Where they disagree in the last bit, "
        "a model trained on Feast's offline values and served another engine's online values sees "
        "exactly this skew; skewless computes both sides with the one component, so its training "
        "and serving values cannot differ (see `skewless verify`)."
    )
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
