#!/usr/bin/env python3
"""Plot admitted requests over time for every algorithm under one bursty load.

    cargo run -q -p ratewarden-cli -- simulate > /tmp/sim.csv
    python3 scripts/plot-algorithms.py /tmp/sim.csv docs/algorithms.png

Needs matplotlib (pip install matplotlib). The schedule and the quota
(capacity 10, 5/s) come from `ratewarden simulate`; the simulation runs on
memory:// at exact simulated times, which the test suite checks gives the
same decisions as Redis.
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CAPACITY, RATE = 10, 5


def main(src: str, out: str) -> None:
    runs: dict[str, list[tuple[int, int]]] = defaultdict(list)
    with open(src, newline="") as f:
        for row in csv.DictReader(f):
            runs[row["algorithm"]].append((int(row["t_ms"]), int(row["admitted"])))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 8), sharex=True, height_ratios=[3, 2])
    offered = None
    for name, events in runs.items():
        times, total, offered_now = [], 0, 0
        ys, offered_ys = [], []
        for t, admitted in events:
            total += admitted
            offered_now += 1
            times.append(t / 1000)
            ys.append(total)
            offered_ys.append(offered_now)
        label = f"{name} (same decisions as gcra)" if name == "token_bucket" else name
        style = {"linestyle": ":", "linewidth": 2.5} if name == "token_bucket" else {}
        top.step(times, ys, where="post", label=label, **style)
        offered = (times, offered_ys)
        # Admissions per 250 ms bucket.
        buckets: dict[int, int] = defaultdict(int)
        for t, admitted in events:
            buckets[t // 250] += admitted
        xs = list(range(max(buckets) + 1))
        bottom.step([x / 4 for x in xs], [buckets.get(x, 0) for x in xs], where="post", label=name, **style)
    if offered:
        top.step(offered[0], offered[1], where="post", color="lightgray", label="requests offered")
        t_max = offered[0][-1]
        top.plot([0, t_max], [CAPACITY, CAPACITY + RATE * t_max], "k--", linewidth=1,
                 label=f"capacity + rate × t ({CAPACITY} + {RATE}/s × t)")
    top.set_ylabel("admitted so far")
    top.set_title(f"Same bursty load, capacity {CAPACITY}, rate {RATE}/s (window W = {CAPACITY // RATE} s)")
    top.legend(loc="upper left", fontsize=8)
    top.grid(alpha=0.3)
    bottom.set_ylabel("admitted per 250 ms")
    bottom.set_xlabel("time (s)")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
