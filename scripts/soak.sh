#!/usr/bin/env bash
# Soak test of `skewless serve` (not part of CI's default run: it takes ten
# minutes): 16 connections for 10 minutes, good fraud-features requests
# mixed with hostile ones (a guest that loops, one that grows its memory by
# 64 MiB, one that panics, bodies that are not JSON). Passes when no good
# request fails or changes its answer, p99 stays within 2x of the first
# minute's and resident memory stays flat. Arguments go to the driver
# (`benches/src/bin/soak.rs`), e.g. `--minutes 1`; the summary is also
# written to target/soak/summary.json.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
cargo build --release -p skewless -p skewless-benches --bin skewless --bin soak
mkdir -p target/soak
exec target/release/soak --skewless target/release/skewless --out target/soak/summary.json "$@"
