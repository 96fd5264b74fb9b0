#!/usr/bin/env bash
# The main job, end to end, on bundled data: build the fraud-features
# transform into a WebAssembly component (reproducibly: the sha256 it
# prints is the README's), backfill the sample transactions through it into
# a Parquet feature table, and show what came out.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> building skewless (the first build compiles wasmtime: several minutes)"
cargo build -p skewless
skewless=target/debug/skewless

echo "==> building the transform: examples/fraud-features -> fraud_features.wasm"
# Installs the wasm32-wasip2 target when it is missing.
"$skewless" build examples/fraud-features
component=target/wasm32-wasip2/release/fraud_features.wasm

echo "==> what the transform declares"
"$skewless" inspect "$component"

mkdir -p target/demo
output=target/demo/fraud-features.parquet
echo "==> backfill: examples/fraud-features/data/transactions.csv -> $output"
"$skewless" run "$component" \
    --input examples/fraud-features/data/transactions.csv \
    --output "$output" \
    --keep transaction_id,is_fraud

echo "==> the feature table, and the transform that made it"
"$skewless" inspect "$output" --rows 8
