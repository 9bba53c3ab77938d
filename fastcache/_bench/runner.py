"""``fastcache bench``: the speed comparison without pytest-benchmark.

Each case's batch runs ``rounds`` times back to back (garbage collection
off, as in the pytest-benchmark suite); the table shows the median per
operation and its ratio to the group's baseline, measured in the same
process.  The machines are shared and noisy: read the ratios.
"""
from __future__ import annotations

import gc
import statistics
import sys
import time
from typing import Callable, Optional, Sequence, TextIO

from .cases import cases
from .tables import TITLES, render, versions

__all__ = ("run_speed", "main")


def run_speed(rounds: int = 5, groups: Optional[Sequence[str]] = None,
              progress: Optional[Callable[[str, str], None]] = None) -> dict[str, dict[str, float]]:
    """Median ns/op of every contender, by group."""
    out: dict[str, dict[str, float]] = {}
    for group, name, build, ops in cases():
        if groups and group not in groups:
            continue
        if progress is not None:
            progress(group, name)
        run = build()
        run()                                           # warm-up round
        times = []
        enabled = gc.isenabled()
        gc.disable()
        try:
            for _ in range(rounds):
                t0 = time.perf_counter()
                run()
                times.append(time.perf_counter() - t0)
        finally:
            if enabled:
                gc.enable()
        out.setdefault(group, {})[name] = statistics.median(times) / ops * 1e9
    return out


def main(quick: bool = False, groups: Optional[Sequence[str]] = None, stream: TextIO = sys.stdout,
         show_progress: bool = False) -> int:
    """Print the speed tables (Markdown) of the installed contenders."""
    unknown = [g for g in groups or () if g not in TITLES]
    if unknown:
        raise ValueError(f"unknown groups {unknown}; known: {', '.join(TITLES)}")

    def progress(group: str, name: str) -> None:
        print(f"\r{group}: {name}" + " " * 20, end="", file=sys.stderr, flush=True)
    speed = run_speed(3 if quick else 7, groups, progress if show_progress else None)
    if show_progress:
        print(file=sys.stderr)
    from .workloads import zipf_hit_ratios
    ratios = zipf_hit_ratios() if not groups or "zipf-cache-aside" in groups else {}
    print(versions(), file=stream)
    print(file=stream)
    print(render(speed, {}, ratios), file=stream)
    return 0
