#!/usr/bin/env bash
# Regenerates BENCHMARKS.md on this machine: builds what it needs, runs the
# Feast comparison (installing Feast 0.67.0 from PyPI into a virtual
# environment under target/), then the Rust report, which measures
# everything else and writes the file. Extra arguments go to the report
# (e.g. `--runs 7`, `--quick`).
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
cargo build --release -p skewless
cargo build --release --target wasm32-wasip2 -p fraud-features
mkdir -p target/bench-report

if [ ! -x target/feast-venv/bin/python ]; then
    python3 -m venv target/feast-venv
fi
target/feast-venv/bin/pip install --quiet --upgrade pip
target/feast-venv/bin/pip install --quiet "feast==0.67.0"
target/feast-venv/bin/python benches/feast/compare.py \
    --skewless target/release/skewless \
    --component target/wasm32-wasip2/release/fraud_features.wasm \
    --data examples/fraud-features/data/transactions.csv \
    --out target/bench-report/feast.json

cargo run --release -p skewless-benches --bin report -- \
    --feast target/bench-report/feast.json --out BENCHMARKS.md "$@"
