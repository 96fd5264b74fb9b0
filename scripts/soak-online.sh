#!/usr/bin/env bash
# Soak test of served aggregations (not part of CI's default run: it takes
# ten minutes): `skewless serve card_velocity.wasm --state DIR` fed 12,000
# events a second over 100,000 cards while 16 connections ask features,
# event times running 3,000 times faster than the clock so that the 7-day
# windows fill and expire. Passes when every request is answered, p99 stays
# within 2x of the first minute's, memory and the state's size stay flat
# once the windows are full, and after a SIGKILL and a restart the state
# holds exactly the acknowledged events that had not expired. Arguments go
# to the driver (`benches/src/bin/soak_online.rs`), e.g. `--minutes 2`; the
# summary is also written to target/soak/online.json.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
cargo build --release -p skewless -p skewless-benches --bin skewless --bin soak_online
mkdir -p target/soak
exec target/release/soak_online --skewless target/release/skewless --out target/soak/online.json "$@"
