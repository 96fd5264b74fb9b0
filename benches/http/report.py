"""Helpers of benches/http/compare.sh (standard library only).

    report.py check-values RUN_DIR
        Reads the answers saved in RUN_DIR/answer-*.json (skewless's
        `{"rows": [...]}`, Feast's `{"metadata": ..., "results": ...}`),
        prints each one's four features, compares them with the first
        skewless answer bit for bit and writes RUN_DIR/values.json.

    report.py summarize RUN_DIR OUT_JSON
        Parses every RUN_DIR/wrk/CONFIG.rROUND.txt (wrk --latency output) of
        the configurations listed in RUN_DIR/configs.tsv (name, server,
        request, connections, threads, url), with RUN_DIR/meta.json,
        takes per configuration the median over rounds of p50, p99 and
        requests/s, computes the ratios, prints a markdown table and writes
        OUT_JSON.
"""

import glob
import json
import os
import re
import statistics
import struct
import sys

FEATURES = ["log_amount", "is_night", "amount_bucket", "category_risk"]

# wrk's format_time: us, ms, s, then minutes and hours.
UNITS_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


def features_of(answer):
    if "rows" in answer:  # skewless
        row = answer["rows"][0]
        return {f: row[f] for f in FEATURES}
    names = answer["metadata"]["feature_names"]  # feast
    return {name: result["values"][0] for name, result in zip(names, answer["results"]) if name in FEATURES}


def bits(value):
    return struct.pack("<d", float(value))


def check_values(run_dir):
    answers = {}
    for path in sorted(glob.glob(os.path.join(run_dir, "answer-*.json"))):
        name = os.path.basename(path)[len("answer-") : -len(".json")]
        with open(path) as f:
            answers[name] = features_of(json.load(f))
    reference_name = "skewless-clean"
    reference = answers[reference_name]
    report = {"reference": reference_name, "answers": answers, "differing": {}}
    for name, values in answers.items():
        print(f"  {name:16} {json.dumps(values)}")
        differing = [f for f in FEATURES if bits(values[f]) != bits(reference[f])]
        if differing:
            report["differing"][name] = differing
            print(f"  !! {name} differs from {reference_name} in {differing}")
    if not report["differing"]:
        print(f"  all {len(answers)} answers equal, bit for bit")
    with open(os.path.join(run_dir, "values.json"), "w") as f:
        json.dump(report, f, indent=2)


def parse_wrk(text):
    out = {}
    for percentile, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", text, re.M):
        out[f"p{percentile}_us"] = float(value) * UNITS_US[unit]
    out["rps"] = float(re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M).group(1))
    out["requests"] = int(re.search(r"^\s+(\d+) requests in", text, re.M).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = sum(map(int, errors.groups())) if errors else 0
    if "p50_us" not in out or "p99_us" not in out:
        raise ValueError("no latency distribution (run wrk with --latency)")
    return out


def fmt_us(us):
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"


def summarize(run_dir, out_path):
    with open(os.path.join(run_dir, "meta.json")) as f:
        meta = json.load(f)
    infos = {}  # configuration -> what compare.sh measured, in order
    with open(os.path.join(run_dir, "configs.tsv")) as f:
        for line in f:
            name, server, request, connections, threads, url = line.rstrip("\n").split("\t")
            infos[name] = {"server": server, "request": request, "connections": int(connections), "threads": int(threads), "url": url}
    configs = {}
    problems = []
    for name, info in infos.items():
        rounds = []
        for path in sorted(glob.glob(os.path.join(run_dir, "wrk", f"{name}.r*.txt"))):
            with open(path) as f:
                parsed = parse_wrk(f.read())
            if parsed["non_2xx"] or parsed["socket_errors"]:
                problems.append(f"{os.path.basename(path)}: {parsed['non_2xx']} non-2xx, {parsed['socket_errors']} socket errors")
            rounds.append(parsed)
        if not rounds:
            continue
        configs[name] = {
            **info,
            "p50_us": statistics.median(r["p50_us"] for r in rounds),
            "p99_us": statistics.median(r["p99_us"] for r in rounds),
            "rps": statistics.median(r["rps"] for r in rounds),
            "rounds": rounds,
        }

    def ratio(a, key_a, b, key_b):
        if a in configs and b in configs:
            return configs[a][key_a] / configs[b][key_b]
        return None

    ratios = {
        "transform_p50_over_healthz_p50_c1_clean": ratio("clean-c1", "p50_us", "healthz-c1", "p50_us"),
        "transform_p50_over_healthz_p50_c1_reuse": ratio("reuse-c1", "p50_us", "healthz-c1", "p50_us"),
        "transform_rps_over_healthz_rps_c16_clean": ratio("clean-c16", "rps", "healthz-c16", "rps"),
        "transform_rps_over_healthz_rps_c16_reuse": ratio("reuse-c16", "rps", "healthz-c16", "rps"),
        "feast_p99_over_skewless_p99_c1": ratio("feast-c1", "p99_us", "clean-c1", "p99_us"),
        "feast_p99_over_python_skewless_p99_c1": ratio("feast-c1", "p99_us", "python-clean-c1", "p99_us"),
        # Not asked for, but cheap and useful next to the p99 ratios.
        "feast_p50_over_skewless_p50_c1": ratio("feast-c1", "p50_us", "clean-c1", "p50_us"),
        "feast_p50_over_python_skewless_p50_c1": ratio("feast-c1", "p50_us", "python-clean-c1", "p50_us"),
    }
    values_path = os.path.join(run_dir, "values.json")
    values = json.load(open(values_path)) if os.path.exists(values_path) else None
    report = {**meta, "configs": configs, "ratios": ratios, "values": values, "problems": problems}
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(report, f, indent=2)

    n = meta["rounds"]
    print(f"\nMedian of {n} rounds of {meta['duration']} each (wrk, closed loop, keep-alive; rounds alternate the configurations)")
    print(f"{meta['cpus']} CPUs, load average (1, 5, 15 min) {meta['loadavg_before']} before, {meta['loadavg_after']} after: anything else running skews these\n")
    print("| configuration | request | connections | p50 | p99 | requests/s | p50 per round |")
    print("|---|---|---:|---:|---:|---:|---|")
    for name, c in configs.items():
        per_round = ", ".join(fmt_us(r["p50_us"]) for r in c["rounds"])
        print(f"| {name} | {c['request']} | {c['connections']} | {fmt_us(c['p50_us'])} | {fmt_us(c['p99_us'])} | {c['rps']:,.0f} | {per_round} |")
    print("\n| ratio | value |\n|---|---:|")
    for name, value in ratios.items():
        print(f"| {name} | {'n/a' if value is None else f'{value:.2f}'} |")
    if problems:
        print("\nPROBLEMS:\n  " + "\n  ".join(problems))
    print(f"\nwrote {out_path}")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"check-values": check_values, "summarize": summarize}[command](*args)
