#!/usr/bin/env bash
# Regenerates BENCHMARKS.md on this machine: builds what it needs (the
# Python example with componentize-py from the tests' Python environment
# under target/python), runs the Feast comparison (installing Feast 0.67.0
# from PyPI into a virtual environment under target/), builds the Python
# package in release into the tests' venv (maturin) and runs the Spark
# comparison (PySpark in local mode), then the Rust report, which measures
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

python=$(bash scripts/python-env.sh)
SKEWLESS_COMPONENTIZE_PY="$(dirname "$python")/componentize-py" \
    target/release/skewless build examples/fraud-features-py
python_component=examples/fraud-features-py/target/fraud_features.wasm

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

# The Python package, in release, in the tests' venv; then the Spark
# comparison (10M rows, PySpark in local mode).
venv=$(dirname "$(dirname "$python")")
VIRTUAL_ENV="$venv" "$venv/bin/maturin" develop --release --quiet -m bindings/python/Cargo.toml
"$python" benches/python/bench_spark.py \
    --skewless target/release/skewless \
    --component target/wasm32-wasip2/release/fraud_features.wasm \
    --out target/bench-report/spark.json

cargo run --release -p skewless-benches --bin report -- \
    --feast target/bench-report/feast.json --python "$python_component" \
    --python-package "$python" --spark target/bench-report/spark.json \
    --out BENCHMARKS.md "$@"
