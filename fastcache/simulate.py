"""Replay a trace through eviction policies and measure hit ratios.

``simulate(trace, policies, capacities)`` turns "which eviction policy?" into
a measurement of your own workload: every request is a read of one unit-size
key; a miss stores the key (cold start).  ``lru``, ``lfu`` and ``fifo`` run
fastcache's own classes; ``arc`` (Megiddo and Modha, FAST 2003) and
``s3fifo`` (Yang et al., SOSP 2023: a 10 % probationary FIFO, a main FIFO with
2-bit frequencies and a ghost queue as large as the main one) are reference
implementations kept here for comparison, ``adaptive`` is
fastcache's ``AdaptiveCache`` (W-TinyLFU with a self-tuning window), and ``opt`` is Belady's MIN, the
offline optimum.
"""
from __future__ import annotations

import heapq
import os
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Sequence, Union

from .traces import read_trace

__all__ = ("simulate", "SimulationResult", "POLICIES")

Keys = Sequence[Any]


def _mapping_policy(factory: Callable[[int], Any]) -> Callable[[Keys, int], int]:
    def run(keys: Keys, capacity: int) -> int:
        cache = factory(capacity)
        get = cache.get
        hits = 0
        for k in keys:
            if get(k) is None:
                cache[k] = True
            else:
                hits += 1
        return hits
    return run


def _lru(capacity: int) -> Any:
    from ._impl import LRUCache
    return LRUCache(capacity)


def _lfu(capacity: int) -> Any:
    from ._impl import LFUCache
    return LFUCache(capacity)


def _fifo(capacity: int) -> Any:
    from ._impl import FIFOCache
    return FIFOCache(capacity)


def arc_hits(keys: Keys, c: int) -> int:
    """ARC as in the FAST'03 paper (T1/T2 resident, B1/B2 ghosts, target p)."""
    t1: OrderedDict[Any, None] = OrderedDict()
    t2: OrderedDict[Any, None] = OrderedDict()
    b1: OrderedDict[Any, None] = OrderedDict()
    b2: OrderedDict[Any, None] = OrderedDict()
    p = 0.0
    hits = 0

    def replace(in_b2: bool) -> None:
        if t1 and (len(t1) > p or (in_b2 and len(t1) == p)):
            old, _ = t1.popitem(last=False)
            b1[old] = None
        else:
            old, _ = t2.popitem(last=False)
            b2[old] = None

    for x in keys:
        if x in t1:
            del t1[x]
            t2[x] = None
            hits += 1
        elif x in t2:
            t2.move_to_end(x)
            hits += 1
        elif x in b1:
            p = min(float(c), p + max(len(b2) / len(b1), 1.0))
            replace(False)
            del b1[x]
            t2[x] = None
        elif x in b2:
            p = max(0.0, p - max(len(b1) / len(b2), 1.0))
            replace(True)
            del b2[x]
            t2[x] = None
        else:
            if len(t1) + len(b1) == c:
                if len(t1) < c:
                    b1.popitem(last=False)
                    replace(False)
                else:
                    t1.popitem(last=False)
            elif len(t1) + len(b1) < c:
                total = len(t1) + len(t2) + len(b1) + len(b2)
                if total >= c:
                    if total == 2 * c:
                        b2.popitem(last=False)
                    replace(False)
            t1[x] = None
    return hits


def s3fifo_hits(keys: Keys, c: int) -> int:
    """S3-FIFO: small FIFO (10 %), main FIFO with 2-bit frequencies, ghost FIFO of main's size."""
    small_cap = max(1, c // 10)
    main_cap = c - small_cap
    small: deque[Any] = deque()
    main: deque[Any] = deque()
    ghost: OrderedDict[Any, None] = OrderedDict()
    freq: dict[Any, int] = {}
    where: dict[Any, int] = {}        # 0 small, 1 main
    hits = 0

    def evict_main() -> None:
        while main:
            k = main.popleft()
            f = freq[k]
            if f > 0:
                freq[k] = f - 1
                main.append(k)
            else:
                del freq[k], where[k]
                return

    def evict_small() -> None:
        while small:
            k = small.popleft()
            if freq[k] > 0:
                if len(main) >= main_cap:
                    evict_main()
                main.append(k)
                freq[k] = 0
                where[k] = 1
            else:
                del freq[k], where[k]
                ghost[k] = None
                if len(ghost) > main_cap:
                    ghost.popitem(last=False)
                return

    for k in keys:
        if k in where:
            hits += 1
            if freq[k] < 3:
                freq[k] += 1
            continue
        if len(small) + len(main) >= c:
            if len(small) >= small_cap or not main:
                evict_small()
            else:
                evict_main()
        if k in ghost:
            del ghost[k]
            if len(main) >= main_cap:
                evict_main()
            main.append(k)
            where[k] = 1
        else:
            small.append(k)
            where[k] = 0
        freq[k] = 0
    return hits


def _adaptive(capacity: int) -> Any:
    from ._impl import AdaptiveCache
    return AdaptiveCache(capacity)


def opt_hits(keys: Keys, c: int) -> int:
    """Belady's MIN: on a miss with a full cache, evict the key used furthest in the future."""
    n = len(keys)
    nxt = [0] * n
    last: dict[Any, int] = {}
    for i in range(n - 1, -1, -1):
        k = keys[i]
        nxt[i] = last.get(k, n + i)        # never again: beyond the end, distinct per request
        last[k] = i
    resident: dict[Any, int] = {}          # key -> its next use
    heap: list[tuple[int, Any]] = []       # (-next use, key), stale entries skipped
    hits = 0
    for i in range(n):
        k = keys[i]
        if k in resident:
            hits += 1
        elif len(resident) >= c:
            while True:
                neg, victim = heapq.heappop(heap)
                if resident.get(victim) == -neg:
                    del resident[victim]
                    break
        resident[k] = nxt[i]
        heapq.heappush(heap, (-nxt[i], k))
    return hits


POLICIES: dict[str, Callable[[Keys, int], int]] = {
    "lru": _mapping_policy(_lru),
    "lfu": _mapping_policy(_lfu),
    "fifo": _mapping_policy(_fifo),
    "arc": arc_hits,
    "s3fifo": s3fifo_hits,
    "adaptive": _mapping_policy(_adaptive),
    "opt": opt_hits,
}


@dataclass
class SimulationResult:
    """Hit ratios (0..1) by policy and capacity, for one trace."""

    requests: int
    unique: int
    ratios: dict[str, dict[int, float]] = field(default_factory=dict)

    def hit_ratio(self, policy: str, capacity: int) -> float:
        """The hit ratio of one policy at one capacity."""
        return self.ratios[policy][capacity]

    def table(self) -> str:
        """A text table: one row per capacity, one column per policy (percent)."""
        policies = list(self.ratios)
        caps = sorted({c for r in self.ratios.values() for c in r})
        lines = ["%10s" % "capacity" + "".join("%10s" % p for p in policies)]
        for c in caps:
            lines.append("%10d" % c + "".join("%10.2f" % (100 * self.ratios[p][c]) for p in policies))
        return "\n".join(lines)


def simulate(trace: Union[str, "os.PathLike[str]", Iterable[Any]], policies: Sequence[str] = ("lru", "lfu", "fifo"),
             capacities: Sequence[int] = (1000,), *, format: Optional[str] = None,
             progress: Optional[Callable[[str, int], Any]] = None) -> SimulationResult:
    """Replay ``trace`` (a file in any shared format, or an iterable of keys)
    through each policy at each capacity; ``progress(policy, capacity)`` is
    called before each replay."""
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown policies {unknown}; known: {', '.join(POLICIES)}")
    caps = []
    for c in capacities:
        if isinstance(c, bool) or not isinstance(c, int) or c < 1:
            raise ValueError(f"capacities must be positive ints, got {c!r}")
        caps.append(c)
    keys = list(read_trace(trace, format))
    if not keys:
        raise ValueError("the trace is empty")
    result = SimulationResult(len(keys), len(set(keys)))
    for p in policies:
        for c in caps:
            if progress is not None:
                progress(p, c)
            result.ratios.setdefault(p, {})[c] = POLICIES[p](keys, c) / len(keys)
    return result
