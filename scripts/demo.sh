#!/usr/bin/env bash
# The main job, end to end, on bundled data: build the fraud-features
# transform to a WebAssembly component, backfill the sample transactions
# through it into a Parquet feature table, and show what came out.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "==> installing the wasm32-wasip2 target"
    rustup target add wasm32-wasip2
fi

echo "==> building the transform: examples/fraud-features -> fraud_features.wasm"
cargo build --release --target wasm32-wasip2 -p fraud-features
component=target/wasm32-wasip2/release/fraud_features.wasm

echo "==> building skewless (the first build compiles wasmtime: several minutes)"
cargo build -p skewless
skewless=target/debug/skewless

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
