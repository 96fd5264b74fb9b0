"""Run backfill commands side by side, alternating, and record wall time and
peak RSS of each run (GNU `/usr/bin/time -v`), with a memory guard.

    python bench.py --rounds 3 --results R.jsonl --limit-gib 17 \
        --case 'skewless-1M=skewless run C --events E --input S --output F --quiet' \
        --case 'duckdb-1M=python duckdb_pandas.py --events E ...'

Each round runs every case once, in the given order (A B A B ...). A run
whose process group's resident memory goes above --limit-gib, or that runs
longer than --timeout seconds, is killed and recorded as such. One JSON
line per run goes to --results; a summary (medians) is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def group_rss(pgid: int) -> int:
    """Resident bytes of every process in the group."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:  # field 5 of stat: pgrp
                total += int(fields[21]) * PAGE  # field 24: rss (pages)
        except (OSError, IndexError, ValueError):
            continue
    return total


def run_one(label: str, argv: list[str], limit: int, timeout: float) -> dict:
    cmd = ["/usr/bin/time", "-v", *argv]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, text=True)
    killed = []
    seen = [0]

    def watch():
        while proc.poll() is None:
            rss = group_rss(proc.pid)
            seen[0] = max(seen[0], rss)
            if rss > limit:
                killed.append(f"rss {rss / 2**30:.1f} GiB > limit")
                os.killpg(proc.pid, signal.SIGKILL)
                return
            if time.perf_counter() - started > timeout:
                killed.append(f"timeout {timeout:.0f} s")
                os.killpg(proc.pid, signal.SIGKILL)
                return
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - started
    watcher.join()
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    u = re.search(r"User time \(seconds\): ([\d.]+)", err)
    s = re.search(r"System time \(seconds\): ([\d.]+)", err)
    return {
        "label": label,
        "argv": argv,
        "rc": proc.returncode,
        "killed": killed[0] if killed else None,
        "wall_s": round(wall, 3),
        "user_s": float(u.group(1)) if u else None,
        "sys_s": float(s.group(1)) if s else None,
        "peak_rss_mib": round(int(m.group(1)) / 1024, 1) if m else round(seen[0] / 2**20, 1),
        "polled_rss_mib": round(seen[0] / 2**20, 1),
        "stdout_tail": out[-600:],
        "stderr_head": "\n".join(l for l in err.splitlines()
                                 if not l.startswith("\t"))[-1500:],
        "load1": os.getloadavg()[0],
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", action="append", required=True, help="LABEL=COMMAND")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--results", type=Path, required=True)
    p.add_argument("--limit-gib", type=float, default=17.0)
    p.add_argument("--timeout", type=float, default=600.0)
    args = p.parse_args(argv)
    cases = []
    for c in args.case:
        label, _, command = c.partition("=")
        cases.append((label, shlex.split(command)))
    runs = []
    with open(args.results, "a") as f:
        for r in range(args.rounds):
            for label, cmd in cases:
                res = run_one(label, cmd, int(args.limit_gib * 2**30), args.timeout)
                res["round"] = r
                runs.append(res)
                f.write(json.dumps(res) + "\n")
                f.flush()
                status = "ok" if res["rc"] == 0 and not res["killed"] else (
                    f"FAILED rc={res['rc']} {res['killed'] or ''}")
                print(f"round {r} {label:24s} wall {res['wall_s']:8.2f} s  "
                      f"user {res['user_s']} s  peak RSS {res['peak_rss_mib']:9.1f} MiB  "
                      f"load {res['load1']:.2f}  {status}", flush=True)
                if status != "ok":
                    print(res["stderr_head"][-800:], file=sys.stderr, flush=True)
    print("\nmedians")
    for label, _ in cases:
        ok = [x for x in runs if x["label"] == label and x["rc"] == 0 and not x["killed"]]
        if ok:
            print(f"  {label:24s} wall {statistics.median(x['wall_s'] for x in ok):8.2f} s  "
                  f"peak RSS {statistics.median(x['peak_rss_mib'] for x in ok):9.1f} MiB  "
                  f"({len(ok)} runs)")
        else:
            print(f"  {label:24s} no successful run")


if __name__ == "__main__":
    main()
