"""Speed of fastcache against dict, functools.lru_cache and installed peers.

Run:  pytest benchmarks --benchmark-only          (or python benchmarks/report.py for the table)
Each benchmark times one batch of workloads.STREAM (or HIT_ENTRIES) operations;
the report divides by the batch size.  Contenders share one process and run
interleaved by pytest, so compare the ratios, not the absolute times.
"""
from __future__ import annotations

import os
from typing import Any, Callable

import pytest

from fastcache._bench.cases import cases

ROUNDS = int(os.environ.get("FASTCACHE_BENCH_ROUNDS", "11"))


@pytest.mark.parametrize("group, name, build, ops",
                         [pytest.param(*case, id="%s:%s" % case[:2]) for case in cases()])
def test_speed(benchmark: Any, group: str, name: str, build: Callable[[], Callable[[], None]],
               ops: int) -> None:
    run = build()
    benchmark.group = group
    benchmark.name = name
    benchmark.extra_info["ops"] = ops
    benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1)
