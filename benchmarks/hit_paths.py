"""The hit paths alone: every L1 class, the TieredCache L1 hit and @cached, as ratios.

    python benchmarks/hit_paths.py                 # a table, about a minute
    python benchmarks/hit_paths.py --json out.json # also the raw medians (ns per operation)

The hit-path cases of the benchmark report (``fastcache._bench.cases``), timed in this
process: each batch is run ``--rounds`` times and the median kept, the whole set
``--repeats`` times and the median of the medians reported, each as a ratio to its
group's baseline in the same run (``dict`` for the cache hits, a bare ``LRUCache.get``
for the TieredCache L1 hit, a bare ``LRUCache[k]`` for @cached).  Quicker than the full
report, for comparing one build with another: run it under each and compare the ratios.
"""
from __future__ import annotations

import argparse
import gc
import json
import statistics
import time

from fastcache._bench.cases import cases

GROUPS = ("hit-int", "hit-str", "hit-int-1k", "tiered-l1-hit", "decorator-hit", "cached-hit-overhead",
          "write-behind-set")
BASELINES = {"tiered-l1-hit": "fastcache.LRUCache.get", "cached-hit-overhead": "bare LRUCache[k] hit",
             "decorator-hit": "fastcache.lru_cache", "write-behind-set": "fastcache.LRUCache[k] = v"}


def measure(rounds: int) -> dict[tuple[str, str], float]:
    """ns per operation of each fastcache hit-path case (and its group's baseline)."""
    out = {}
    for group, name, build, ops in cases():
        if group not in GROUPS or not (name.startswith(("fastcache", "dict", "bare", "@cached", "CacheAside",
                                                        "functools"))):
            continue
        if "pure" in name:
            continue
        run = build()
        run()
        gc.disable()
        try:
            times = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                run()
                times.append(time.perf_counter() - t0)
        finally:
            gc.enable()
        out[(group, name)] = statistics.median(times) / ops * 1e9
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="write the medians (ns per operation) here")
    args = parser.parse_args()
    runs = [measure(args.rounds) for _ in range(args.repeats)]
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"{'group':22s} {'case':58s} {'ns/op':>8s} {'ratio':>7s}")
    for (group, name), ns in median.items():
        base = median.get((group, BASELINES.get(group, "dict")))
        ratio = f"{ns / base:6.2f}x" if base else ""
        print(f"{group:22s} {name:58s} {ns:8.1f} {ratio:>7s}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({f"{g}|{n}": v for (g, n), v in median.items()}, f, indent=1)


if __name__ == "__main__":
    main()
