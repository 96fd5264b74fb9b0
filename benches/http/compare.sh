#!/usr/bin/env bash
# HTTP serving, measured from a load generator in another process (wrk:
# closed loop, keep-alive, --latency), for the `fraud-features` transform:
#
#   - `skewless serve --no-cache`: GET /healthz and the single-row
#     POST /v1/transforms/fraud-features, at 1 and at 16 connections, on a
#     server that starts every call from a clean instance and on one started
#     with --reuse-instances;
#   - `feast serve` (Feast 0.67.0, the same features as a python-mode
#     on-demand feature view, benches/feast/compare.py) at 1 connection, and
#     the Python-written skewless transform (examples/fraud-features-py,
#     if built) at 1 connection.
#
# Every configuration runs ROUNDS times for DURATION, the configurations
# alternating within each round; the report has per configuration the
# median over rounds of p50, p99 and requests/s, and the ratios below
# (all from this one run). Prints a markdown table, writes JSON (--out) and
# keeps wrk's raw output beside it (OUT without .json, plus -raw/).
#
# Run: bash benches/http/compare.sh [--out target/bench-report/http.json]
#   [--skewless PATH] [--component PATH] [--python-component PATH]
#   [--feast-venv DIR] [--duration 5s] [--rounds 3]
# Takes about 3 minutes with the defaults. Builds with cargo only what is
# missing (the CLI, the component); installs wrk with apt-get and Feast
# into the venv if missing (their output goes to stderr, so stdout is the
# report alone).
set -euo pipefail
cd "$(dirname "$0")/../.."

out=target/bench-report/http.json
skewless=target/release/skewless
component=target/guests/wasm32-wasip2/release/fraud_features.wasm
python_component=examples/fraud-features-py/target/fraud_features.wasm
feast_venv=target/feast-venv
duration=5s
rounds=3
while [ $# -gt 0 ]; do
    case "$1" in
    --out) out=$2 ;;
    --skewless) skewless=$2 ;;
    --component) component=$2 ;;
    --python-component) python_component=$2 ;;
    --feast-venv) feast_venv=$2 ;;
    --duration) duration=$2 ;;
    --rounds) rounds=$2 ;;
    *) echo "unknown argument: $1 (see the comment at the top of $0)" >&2; exit 2 ;;
    esac
    shift 2
done
here=benches/http
started=$(date +%s)

# --- Tools and artifacts ------------------------------------------------------
if ! command -v wrk >/dev/null; then
    { apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; } >&2
fi
if [ ! -x "$skewless" ]; then
    cargo build --release -p skewless
fi
if [ ! -f "$component" ]; then
    rustup target add wasm32-wasip2 >&2
    cargo build --release --target wasm32-wasip2 -p fraud-features --target-dir target/guests
fi
if [ ! -x "$feast_venv/bin/feast" ]; then
    python3 -m venv "$feast_venv" >&2
    "$feast_venv/bin/pip" install "feast==0.67.0" >&2
fi
if [ ! -f "$python_component" ]; then
    echo "note: $python_component missing, skipping the Python-written transform" \
        "(build it with: skewless build examples/fraud-features-py)" >&2
    python_component=
fi

run=$(mktemp -d)
mkdir -p "$run/wrk"
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        # Each server leads its own process group (setsid): gunicorn's worker too.
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Servers --------------------------------------------------------------------
# Starts `skewless serve` on a port of its choosing; sets $addr from its
# "listening on http://ADDR" line.
start_skewless() { # NAME COMPONENT [FLAGS...]
    local name=$1 wasm=$2 log="$run/$1.log" pid
    shift 2
    setsid "$skewless" serve "$wasm" --addr 127.0.0.1:0 --no-cache "$@" 2>"$log" >/dev/null &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 1200); do # compiling the 18 MB Python component takes a while
        addr=$(sed -n 's|^listening on http://||p' "$log")
        [ -n "$addr" ] && { echo "$name: listening on $addr (pid $pid)" >&2; return; }
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "$name: exited" >&2; exit 1; }
        sleep 0.25
    done
    cat "$log" >&2; echo "$name: not listening after 300 s" >&2; exit 1
}

start_skewless skewless-clean "$component"
clean=$addr
start_skewless skewless-reuse "$component" --reuse-instances
reuse=$addr
if [ -n "$python_component" ]; then
    start_skewless python-skewless "$python_component"
    python_clean=$addr
fi

# Feast: a feature repo with the views of benches/feast/compare.py, applied,
# then its HTTP feature server (gunicorn, one uvicorn worker). Without an
# access log (skewless logs no requests either) and without gunicorn's
# worker recycling (--max-requests, 1000 by default, would restart the
# worker several times within a run).
"$feast_venv/bin/python" "$here/feast_repo.py" "$run/feast-repo" 2>"$run/feast-apply.log" \
    || { cat "$run/feast-apply.log" >&2; exit 1; }
feast_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
feast="127.0.0.1:$feast_port"
setsid "$feast_venv/bin/feast" -c "$run/feast-repo" serve --host 127.0.0.1 --port "$feast_port" \
    --no-access-log --max-requests 0 >"$run/feast.log" 2>&1 &
pids+=("$!")
for i in $(seq 240); do
    curl -sf -o /dev/null "http://$feast/health" && break
    if ! kill -0 "${pids[-1]}" 2>/dev/null || [ "$i" -eq 240 ]; then
        cat "$run/feast.log" >&2; echo "feast serve did not start" >&2; exit 1
    fi
    sleep 0.25
done
echo "feast serve: listening on $feast (pid ${pids[-1]})" >&2

# --- Same row, same features ------------------------------------------------------
skewless_body='{"rows": [{"amount": 12.5, "hour": 3, "merchant_category": "travel"}]}'
feast_body='{"features": ["fraud_features_python:log_amount", "fraud_features_python:is_night", "fraud_features_python:amount_bucket", "fraud_features_python:category_risk"], "entities": {"amount": [12.5], "hour": [3], "merchant_category": ["travel"]}}'
transform_path=/v1/transforms/fraud-features
post() { # URL BODY
    curl -sSf -H 'Content-Type: application/json' -d "$2" "$1"
}
post "http://$clean$transform_path" "$skewless_body" >"$run/answer-skewless-clean.json"
post "http://$reuse$transform_path" "$skewless_body" >"$run/answer-skewless-reuse.json"
[ -n "$python_component" ] && post "http://$python_clean$transform_path" "$skewless_body" >"$run/answer-python-skewless.json"
post "http://$feast/get-online-features" "$feast_body" >"$run/answer-feast.json"
echo "skewless answer: $(cat "$run/answer-skewless-clean.json")" >&2
echo "feast answer:    $(cat "$run/answer-feast.json")" >&2
echo "features of the row, per server:" >&2
python3 "$here/report.py" check-values "$run" >&2

# --- Measurements -------------------------------------------------------------------
wrk_version=$(wrk -v 2>&1 | head -1 || true)
measure() { # NAME SERVER REQUEST CONNECTIONS URL [BODY]; GET without BODY
    local name=$1 server=$2 request=$3 connections=$4 url=$5 body=${6:-} threads=1 file
    [ "$connections" -gt 1 ] && threads=2
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$server" "$request" "$connections" "$threads" "$url" >>"$run/configs.tsv"
    file="$run/wrk/$name.r$round.txt"
    if [ -n "$body" ]; then
        WRK_BODY=$body wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$here/post.lua" "$url" >"$file"
    else
        wrk -t"$threads" -c"$connections" -d"$duration" --latency "$url" >"$file"
    fi
    printf '  round %s %-18s %s\n' "$round" "$name" "$(grep -E '^\s+(50|99)%|^Requests/sec' "$file" | tr -s ' ' | tr '\n' ' ')" >&2
}

# Warm-up (not recorded): first requests compile lazily, fill caches, start workers.
for target in "$clean$transform_path|$skewless_body" "$reuse$transform_path|$skewless_body" \
    "$feast/get-online-features|$feast_body" ${python_component:+"$python_clean$transform_path|$skewless_body"}; do
    WRK_BODY=${target#*|} wrk -t1 -c1 -d1s -s "$here/post.lua" "http://${target%%|*}" >/dev/null
done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$rounds"); do
    measure healthz-c1 skewless-clean "GET /healthz" 1 "http://$clean/healthz"
    measure clean-c1 skewless-clean "POST transform" 1 "http://$clean$transform_path" "$skewless_body"
    measure reuse-c1 skewless-reuse "POST transform" 1 "http://$reuse$transform_path" "$skewless_body"
    measure feast-c1 feast-serve "POST get-online-features" 1 "http://$feast/get-online-features" "$feast_body"
    if [ -n "$python_component" ]; then
        measure python-clean-c1 python-skewless "POST transform" 1 "http://$python_clean$transform_path" "$skewless_body"
    fi
    measure healthz-c16 skewless-clean "GET /healthz" 16 "http://$clean/healthz"
    measure clean-c16 skewless-clean "POST transform" 16 "http://$clean$transform_path" "$skewless_body"
    measure reuse-c16 skewless-reuse "POST transform" 16 "http://$reuse$transform_path" "$skewless_body"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Report -----------------------------------------------------------------------------
feast_version=$("$feast_venv/bin/python" -c 'import feast; print(feast.__version__)' 2>/dev/null)
python3 - "$run/meta.json" <<EOF
import json, os, platform, sys, time
json.dump({
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "duration": "$duration", "rounds": $rounds,
    "cpus": os.cpu_count(), "kernel": platform.release(),
    "loadavg_before": "$load_before", "loadavg_after": "$load_after",
    "wrk": "$wrk_version", "feast_version": "$feast_version",
    "skewless": "$skewless", "component": "$component", "python_component": "$python_component",
    "healthz_note": "healthz measured on the clean server; it is the denominator of both the clean and the reuse ratios",
    "feast_serve_flags": "--no-access-log --max-requests 0 (one worker, the default)",
    "elapsed_s": $(($(date +%s) - started)),
}, open(sys.argv[1], "w"), indent=2)
EOF
python3 "$here/report.py" summarize "$run" "$out"
raw="${out%.json}-raw"
rm -rf "$raw" && mkdir -p "$raw" && cp "$run"/wrk/*.txt "$run"/*.log "$run"/answer-*.json "$run/values.json" "$raw/"
echo "raw wrk output and server logs: $raw/; took $(($(date +%s) - started)) s" >&2
