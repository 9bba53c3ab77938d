"""The ``fastcache`` command (also ``python -m fastcache``): ``simulate`` and ``bench``.

``fastcache bench [--quick] [--group ...]`` prints the speed tables of fastcache
against ``dict``, ``functools.lru_cache`` and whichever peers are installed.

``fastcache simulate [TRACE] --capacity 100 1000 --policy lru lfu fifo adaptive``
replays a trace (any format of :mod:`fastcache.traces`; by default the small
trace shipped with the package) and prints the hit ratios; ``--plot out.png``
draws hit ratio against capacity per policy (needs matplotlib:
``pip install 'fastcache[plot]'``).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable, Optional, Sequence, TextIO

from .simulate import POLICIES, SimulationResult, simulate

__all__ = ("main",)

SAMPLE_TRACE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "lirs-cpp.trace.gz")


def _progress(total: int, stream: TextIO) -> Callable[[str, int], None]:
    done = [0]
    start = time.monotonic()

    def report(policy: str, capacity: int) -> None:
        done[0] += 1
        width = 24
        filled = width * (done[0] - 1) // total
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done[0]}/{total} {policy} @ {capacity} "
              f"({time.monotonic() - start:.1f} s)   ", end="", file=stream, flush=True)
    return report


def _plot(result: SimulationResult, path: str, title: str) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install 'fastcache[plot]'") from None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for policy, ratios in result.ratios.items():
        caps = sorted(ratios)
        ax.plot(caps, [100 * ratios[c] for c in caps], marker="o", label=policy)
    ax.set_xscale("log")
    ax.set_xlabel("capacity (entries)")
    ax.set_ylabel("hit ratio (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; the exit status."""
    parser = argparse.ArgumentParser(prog="fastcache", description="fastcache tools")
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="replay a trace through eviction policies and print hit ratios")
    sim.add_argument("trace", nargs="?", default=None,
                     help="trace file (keys, ARC .lis, binary, address; plain, .gz or .xz); "
                          "default: a small trace shipped with fastcache")
    sim.add_argument("--capacity", "-c", type=int, nargs="+", default=None, metavar="N",
                     help="cache sizes in entries (default: 50 100 200 for the sample trace, else 1000)")
    sim.add_argument("--policy", "-p", nargs="+", default=["lru", "lfu", "fifo", "adaptive"],
                     choices=sorted(POLICIES), metavar="NAME",
                     help=f"policies ({', '.join(POLICIES)}; default: lru lfu fifo adaptive)")
    sim.add_argument("--format", choices=("keys", "arc", "be32", "be32u", "be64", "address"), default=None,
                     help="trace format (default: from the file name)")
    sim.add_argument("--plot", metavar="OUT.png", help="draw hit ratio against capacity per policy")
    sim.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    bench = sub.add_parser("bench", help="time fastcache against dict, functools and the installed peers")
    bench.add_argument("--quick", action="store_true", help="3 rounds per case instead of 7")
    bench.add_argument("--group", nargs="+", default=None, metavar="GROUP",
                       help="only these groups (hit-int, hit-str, miss-insert-evict, zipf-cache-aside, ...)")
    args = parser.parse_args(argv)
    if args.command == "bench":
        from ._bench import runner
        try:
            return runner.main(args.quick, args.group, show_progress=sys.stderr.isatty())
        except ValueError as exc:
            parser.error(str(exc))

    trace = args.trace or SAMPLE_TRACE
    capacities = args.capacity or ([50, 100, 200] if args.trace is None else [1000])
    if any(c < 1 for c in capacities):
        parser.error("capacities must be positive")
    if not os.path.exists(trace):
        parser.error(f"no such trace file: {trace}")
    total = len(args.policy) * len(capacities)
    progress = _progress(total, sys.stderr) if not args.quiet and sys.stderr.isatty() else None
    try:
        result = simulate(trace, args.policy, capacities, format=args.format, progress=progress)
    except ValueError as exc:
        parser.error(str(exc))
    if progress is not None:
        print(file=sys.stderr)
    print(f"{os.path.basename(trace)}: {result.requests} requests, {result.unique} distinct keys; "
          f"hit ratio in percent")
    print(result.table())
    if args.plot:
        _plot(result, args.plot, os.path.basename(trace))
        print(f"plot written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
