"""Replay the shared traces through fastcache's policies at the reference capacities.

Reads ``reference-hit-ratios.txt`` (every trace, every capacity, and the
reference policies' figures), replays each trace through fastcache's own
classes and prints one table: ours next to the reference LRU, LFU, FIFO,
ARC, S3-FIFO and Belady's optimum, then the summary the adaptive policy is
judged by (mean over all cells against ARC and S3-FIFO, worst cell against
LRU, the loop/scan cells against the optimum).

    python benchmarks/hit_ratios.py [--traces DIR] [--policy adaptive lru] [--workers 2]
        [--only lirs-loop ...] [--markdown out.md]

``--traces`` defaults to ``$FASTCACHE_TRACES`` or ``../shared/traces``.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

Table = dict[str, dict[int, dict[str, float]]]
STARRED: set[tuple[str, int]] = set()       # capacities the reference added only to meet a published figure
LOOP_CELLS = (("lirs-loop", 1000), ("lirs-cs", 1000))


def parse_reference(path: str) -> Table:
    """{trace file: {capacity: {policy: percent}}} from the reference table."""
    table: Table = {}
    trace = None
    columns: list[str] = []
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^(\S+)\s+requests=\d+", line)
        if m:
            trace = m.group(1)
            table[trace] = {}
            continue
        fields = line.split()
        if trace and fields and fields[0] == "capacity":
            columns = fields[1:]
        elif trace and fields and re.match(r"^\d+\*?$", fields[0]):
            cap = int(fields[0].rstrip("*"))
            if fields[0].endswith("*"):
                STARRED.add((trace, cap))
            table[trace][cap] = dict(zip(columns, map(float, fields[1:])))
    return table


def short(trace: str) -> str:
    return re.sub(r"\.(trace|lis|keys|txt)(\.(gz|xz))?$", "", trace)


def replay(args: tuple[str, list[int], list[str]]) -> tuple[str, dict[str, dict[int, float]], float]:
    path, caps, policies = args
    from fastcache.simulate import simulate
    t = time.perf_counter()
    result = simulate(path, policies, caps)
    return path, {p: {c: 100 * result.hit_ratio(p, c) for c in caps} for p in policies}, \
        time.perf_counter() - t


def main(argv: Any = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", default=os.environ.get("FASTCACHE_TRACES",
                                                        os.path.join(HERE, "..", "..", "shared", "traces")))
    ap.add_argument("--policy", nargs="+", default=["adaptive"])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--only", nargs="*", default=None, help="trace name prefixes")
    ap.add_argument("--markdown", help="also write the table as Markdown here")
    ap.add_argument("--three", action="store_true",
                    help="table: only the three regular capacities per trace (not the starred extras)")
    opts = ap.parse_args(argv)
    ref = parse_reference(os.path.join(opts.traces, "reference-hit-ratios.txt"))
    jobs = [(os.path.join(opts.traces, t), sorted(caps), opts.policy) for t, caps in ref.items()
            if not opts.only or any(short(t).startswith(o) for o in opts.only)]
    jobs.sort(key=lambda j: -os.path.getsize(j[0]))          # longest first
    ours: dict[str, dict[str, dict[int, float]]] = {}
    with ProcessPoolExecutor(opts.workers) as pool:
        for path, ratios, secs in pool.map(replay, jobs):
            ours[os.path.basename(path)] = ratios
            print(f"# {short(os.path.basename(path))}: {secs:.1f} s", file=sys.stderr, flush=True)
    refcols = ["lru", "lfu", "fifo", "arc", "s3fifo", "opt"]
    head = ["trace", "capacity"] + [f"{p} (fastcache)" for p in opts.policy] + refcols
    rows = []
    for trace in ref:
        if trace not in ours:
            continue
        for cap in sorted(ref[trace]):
            if opts.three and (trace, cap) in STARRED:
                continue
            rows.append([short(trace), str(cap) + ("*" if (trace, cap) in STARRED else "")] + ["%.2f" % ours[trace][p][cap] for p in opts.policy]
                        + ["%.2f" % ref[trace][cap][c] for c in refcols])
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    lines = md + [""]
    everything = [(t, c) for t in ref if t in ours for c in ref[t]]
    regular = [cell for cell in everything if cell not in STARRED]
    for p in opts.policy:
        lines += summary(p, everything, ours, ref) + summary(p, regular, ours, ref)
    print("\n".join(lines))
    if opts.markdown:
        with open(opts.markdown, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    return 0


def summary(p: str, cells: list[tuple[str, int]], ours: dict[str, dict[str, dict[int, float]]],
            ref: Table) -> list[str]:
    """Mean against the reference policies, worst cells against LRU, the loop cells against Belady."""
    lines = []
    mine = [ours[t][p][c] for t, c in cells]
    mean = sum(mine) / len(mine)
    kind = "every cell" if any(cell in STARRED for cell in cells) else "regular capacities"
    lines.append(f"{p}: {len(cells)} cells ({kind}), mean {mean:.2f}")
    for other in ("lru", "arc", "s3fifo", "opt"):
        theirs = sum(ref[t][c][other] for t, c in cells) / len(cells)
        lines.append(f"  vs {other}: mean {theirs:.2f} ({mean - theirs:+.2f})")
    worst = sorted(((ours[t][p][c] - ref[t][c]["lru"], short(t), c) for t, c in cells))[:5]
    lines.append("  worst against LRU: " + ", ".join(f"{n}@{c} {d:+.2f}" for d, n, c in worst))
    for name, cap in LOOP_CELLS:
        for t, c in cells:
            if short(t) == name and c == cap:
                lines.append(f"  {name}@{cap}: {ours[t][p][c]:.2f} of optimum {ref[t][c]['opt']:.2f}"
                             f" ({ours[t][p][c] / ref[t][c]['opt']:.0%}; LRU {ref[t][c]['lru']:.2f})")
    return lines


if __name__ == "__main__":
    sys.exit(main())
