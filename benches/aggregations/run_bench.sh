#!/usr/bin/env bash
# The card-velocity backfill benchmark: skewless vs DuckDB vs pandas, alternating.
# Usage: bash benches/aggregations/run_bench.sh [set-a|set-b|fsum|set-c]   (from anywhere)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT/benches/aggregations"
python=$(bash "$ROOT/scripts/python-env.sh")
D=$ROOT/target/aggbench
O=$D/out
mkdir -p "$O"
# The CLI and the component (set SKEWLESS and COMPONENT to frozen copies while other builds run).
SK=${SKEWLESS:-$ROOT/target/release/skewless}      # cargo build --release -p skewless
W=${COMPONENT:-$ROOT/target/guests/wasm32-wasip2/release/card_velocity.wasm}   # built by cargo test; or skewless build examples/card-velocity
S=$D/spine_1000000.parquet
E1=$D/events_1000000.parquet
E2=$D/events_2000000.parquet
E10=$D/events_10000000.parquet
DP="$python duckdb_pandas.py"
case "${1:-set-a}" in
set-a)
  $python bench.py --rounds 3 --results "$O/set-a.jsonl" --limit-gib 16.5 --timeout 600 \
    --case "skewless-1M=$SK run $W --events $E1 --input $S --output $O/skewless_1M.parquet --quiet" \
    --case "duckdb-1M=$DP --events $E1 --spine $S --engine duckdb --out $O/duckdb_1M.parquet" \
    --case "duckdb-window-1M=$DP --events $E1 --spine $S --engine duckdb-window --out $O/duckdb-window_1M.parquet" \
    --case "pandas-1M=$DP --events $E1 --spine $S --engine pandas --out $O/pandas_1M.parquet" \
    --case "skewless-10M=$SK run $W --events $E10 --input $S --output $O/skewless_10M.parquet --quiet" \
    --case "duckdb-10M=$DP --events $E10 --spine $S --engine duckdb --out $O/duckdb_10M.parquet" \
    --case "duckdb-window-10M=$DP --events $E10 --spine $S --engine duckdb-window --out $O/duckdb-window_10M.parquet" \
    --case "skewless-spill-1M=$SK run $W --events $E1 --input $S --output $O/skewless_spill_1M.parquet --quiet --spill-above 4MiB" \
    --case "skewless-spill-10M=$SK run $W --events $E10 --input $S --output $O/skewless_spill_10M.parquet --quiet --spill-above 4MiB"
  ;;
set-b)
  $python bench.py --rounds 3 --results "$O/set-b.jsonl" --limit-gib 16.5 --timeout 600 \
    --case "skewless-2M=$SK run $W --events $E2 --input $S --output $O/skewless_2M.parquet --quiet" \
    --case "pandas-2M=$DP --events $E2 --spine $S --engine pandas --out $O/pandas_2M.parquet"
  ;;
fsum)
  $python bench.py --rounds 1 --results "$O/fsum.jsonl" --limit-gib 16.5 --timeout 600 \
    --case "duckdb-fsum-1M=$DP --events $E1 --spine $S --engine duckdb-fsum --out $O/duckdb-fsum_1M.parquet" \
    --case "duckdb-fsum-10M=$DP --events $E10 --spine $S --engine duckdb-fsum --out $O/duckdb-fsum_10M.parquet"
  ;;
set-c)
  $python bench.py --rounds 2 --results "$O/set-c.jsonl" --limit-gib 16.5 --timeout 600 \
    --case "skewless-1M=$SK run $W --events $E1 --input $S --output $O/skewless_1M.parquet --quiet" \
    --case "duckdb-fsum-1M=$DP --events $E1 --spine $S --engine duckdb-fsum --out $O/duckdb-fsum_1M.parquet" \
    --case "skewless-10M=$SK run $W --events $E10 --input $S --output $O/skewless_10M.parquet --quiet" \
    --case "duckdb-fsum-10M=$DP --events $E10 --spine $S --engine duckdb-fsum --out $O/duckdb-fsum_10M.parquet" \
    --case "skewless-spill-10M=$SK run $W --events $E10 --input $S --output $O/skewless_spill_10M.parquet --quiet --spill-above 4MiB"
  ;;
esac
