"""Medians of bench.py's results (JSON lines), per label, with the ratio of
wall-time medians to a reference label of the same size.

    python summarize.py R1.jsonl R2.jsonl ...
"""

from __future__ import annotations

import json
import statistics
import sys


def main(argv=None) -> None:
    argv = argv if argv is not None else sys.argv[1:]
    runs = [json.loads(line) for path in argv for line in open(path) if line.strip()]
    labels = list(dict.fromkeys(r["label"] for r in runs))
    med = {}
    for label in labels:
        ok = [r for r in runs if r["label"] == label and r["rc"] == 0 and not r["killed"]]
        if not ok:
            continue
        med[label] = {
            "n": len(ok),
            "wall": statistics.median(r["wall_s"] for r in ok),
            "walls": sorted(r["wall_s"] for r in ok),
            "cpu": statistics.median(r["user_s"] + r["sys_s"] for r in ok),
            "rss": statistics.median(r["peak_rss_mib"] for r in ok),
            "load": statistics.median(r["load1"] for r in ok),
        }
    print("| label | runs | wall median (s) | walls (s) | ratio vs skewless | CPU user+sys median (s) | peak RSS median (MiB) | load1 median |")
    print("|---|---|---|---|---|---|---|---|")
    for label, m in med.items():
        size = label.rsplit("-", 1)[1]
        ref = med.get(f"skewless-{size}")
        ratio = f"{m['wall'] / ref['wall']:.2f}x" if ref else "-"
        print(f"| {label} | {m['n']} | {m['wall']:.2f} | {', '.join(f'{w:.1f}' for w in m['walls'])} "
              f"| {ratio} | {m['cpu']:.1f} | {m['rss']:.0f} | {m['load']:.1f} |")


if __name__ == "__main__":
    main()
