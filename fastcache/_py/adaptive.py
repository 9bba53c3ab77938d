"""Adaptive cache (pure-Python twin of ``fastcache._core.adaptive``): W-TinyLFU, self-tuning window.

The same decisions as the compiled class, step for step (same sketch bits,
same shadow sampling, same climber arithmetic); the segments are
OrderedDicts instead of linked entry numbers.
"""
from __future__ import annotations

import math
import time as _time
from collections import OrderedDict
from typing import Any, Callable, Optional, Union

from .._types import RemovalCause
from ._table import KT, VT, Table, _marker
from .frequency_sketch import FrequencySketch, spread
from .hash_lru import HashLRU

__all__ = ("AdaptiveCache",)

_UNBOUNDED = 2**63 - 1
_MIN_SAMPLE = 1000          # accesses per climber period, at least...
_MAX_SAMPLE = 300_000       # ...and at most: a large cache must adapt within a few million requests
_INITIAL_WINDOW = 0.01      # Caffeine's starting point: almost pure TinyLFU
_STEP = 0.0625              # the climber's step, as a share of maxsize
_JUMP = 0.25                # the step when the shadow LRU is clearly ahead
_LRU_MARGIN = 0.01          # "clearly": by more than one point of hit ratio
_RESTART = 0.05             # a change of hit ratio this large restarts the search
_HIT_BUFFER = 64            # hits applied to the policy in batches of this many (as the compiled twin)
_WINDOW, _PROBATION, _PROTECTED = 0, 1, 2
_DETACHED = -1
_NAMES = ("window", "probation", "protected")


class _Node:
    """A cached key's place in the policy: its segment, size and mixed hash."""

    __slots__ = ("key", "x", "size", "segment", "referenced")

    def __init__(self, key: Any, x: int, size: int) -> None:
        self.key = key
        self.x = x
        self.size = size
        self.segment = _DETACHED
        self.referenced = 0


class AdaptiveCache(Table[KT, VT]):
    """Scan- and frequency-resistant cache that tunes itself (W-TinyLFU).

    Same mapping API as the other caches (cachetools semantics; ``getsizeof``
    weights, statistics, ``on_evict``).  New items enter a small LRU window;
    when it is full its oldest item competes with the main space's next
    victim and the more frequently used one (per a count-min sketch with
    periodic halving) stays.  The main space is a segmented LRU (probation,
    then protected after a second use).  A hill climber, checked against a
    shadow LRU, resizes the window: large acts like LRU, small like LFU.
    ``ttl=`` (seconds, with an injectable ``timer=``) makes items expire by
    TTLCache's rules; ``set(key, value, ttl=...)`` gives one item its own TTL.
    """

    # Every policy structure below is keyed by node identity, and each hook
    # touches the user-keyed ``_nodes`` dict once, before or after all else:
    # a key whose __eq__ re-enters the cache then finds consistent segments.
    __slots__ = ("_segments", "_weights", "_nodes", "_sketch", "_shadow", "_window_max",
                 "_protected_max", "_sized_for", "_climbing", "_direction", "_step",
                 "_previous_rate", "_sample_size", "_sample_count", "_sample_hits", "_shadow_hits",
                 "_buffer")
    _buffer: list[_Node]

    def __init__(self, maxsize: Union[int, float], getsizeof: Optional[Callable[[Any], int]] = None,
                 *, ttl: Optional[float] = None, timer: Callable[[], float] = _time.monotonic,
                 on_evict: Optional[Callable[[Any, Any, RemovalCause], object]] = None) -> None:
        self._init_from_params({"maxsize": maxsize, "getsizeof": getsizeof, "on_evict": on_evict,
                                "ttl": ttl, "timer": timer})

    def _init_from_params(self, params: dict[str, Any]) -> None:
        self._init_table(params["maxsize"], params["getsizeof"], params["on_evict"])
        self._init_expiry(params.get("timer", _time.monotonic), params.get("ttl"))
        m = self._maxsize
        bounded = m < _UNBOUNDED
        self._sketch = FrequencySketch(16)
        self._shadow = HashLRU(1)
        self._configure(m if bounded and not self._weighted and m <= (1 << 24) else 64)
        self._climbing = bounded and m > 1
        self._direction = 1
        self._step = max(1.0, m * _STEP)
        self._previous_rate = -1.0
        self._set_window(0 if m <= 1 else max(1, math.floor(m * _INITIAL_WINDOW + 0.5)) if bounded else m // 100)

    def _configure(self, entries: int) -> None:
        self._sized_for = entries
        self._sketch.resize(entries)
        self._shadow.configure(entries)
        self._sample_size = min(_MAX_SAMPLE, max(_MIN_SAMPLE, 10 * entries))
        self._sample_count = self._sample_hits = self._shadow_hits = 0

    # ------------------------------------------------------------ segments

    def _unlink(self, node: _Node) -> None:
        del self._segments[node.segment][id(node)]
        self._weights[node.segment] -= node.size
        node.segment = _DETACHED

    def _append_to(self, segment: int, node: _Node) -> None:
        self._segments[segment][id(node)] = node
        self._weights[segment] += node.size
        node.segment = segment

    def _move(self, node: _Node, segment: int) -> None:
        self._unlink(node)
        self._append_to(segment, node)

    def _demote(self) -> None:
        protected = self._segments[_PROTECTED]
        while self._weights[_PROTECTED] > self._protected_max and protected:
            node = next(iter(protected.values()))
            if node.referenced:
                node.referenced = 0
                self._move(node, _PROTECTED)
            else:
                self._move(node, _PROBATION)

    def _set_window(self, window: int) -> None:
        m = self._maxsize
        window = max(0, min(m, window))
        self._window_max = window
        rest = m - window
        self._protected_max = (rest // 5) * 4 + ((rest % 5) * 4) // 5
        self._demote()

    # ------------------------------------------------------------ climber

    def _record(self, hit: bool, x: int) -> None:
        if not self._climbing:
            return
        if self._currsize < self._maxsize - self._maxsize // 10:
            return                      # still filling up: nothing to compare yet
        self._sample_count += 1
        self._sample_hits += hit
        if self._shadow.touch(x) == 1:
            self._shadow_hits += self._shadow.rate
        if self._sample_count >= self._sample_size:
            self._climb()

    def _climb(self) -> None:
        rate = self._sample_hits / self._sample_count
        lru_rate = self._shadow_hits / self._sample_count
        jump = self._maxsize * _JUMP
        restart = self._maxsize * _STEP
        if lru_rate > rate + _LRU_MARGIN:
            self._direction = 1
            if self._step < jump:
                self._step = jump
        elif self._previous_rate >= 0:
            if rate < self._previous_rate:
                self._direction = -self._direction
                self._step = max(1.0, self._step * 0.5)
            if abs(rate - self._previous_rate) > _RESTART and self._step < restart:
                self._step = restart
        self._previous_rate = rate
        self._sample_count = self._sample_hits = self._shadow_hits = 0
        self._set_window(math.floor(self._window_max + self._direction * self._step + 0.5))
        self._step = max(1.0, self._step * 0.98)

    # --------------------------------------------------------- table hooks

    def _size_of(self, key: Any) -> int:
        return self._sizes[key] if self._weighted else 1

    def _on_insert(self, key: Any) -> None:
        node = _Node(key, spread(hash(key)), self._size_of(key))
        self._nodes[key] = node
        if len(self._data) > self._sized_for:
            self._configure(2 * len(self._data))
        self._sketch.increment(node.x)
        self._append_to(_WINDOW, node)
        self._record(False, node.x)

    def _touch(self, node: _Node) -> None:
        if node.segment == _PROBATION:
            self._move(node, _PROTECTED)
            self._demote()
        else:
            node.referenced = 1

    def _on_update(self, key: Any) -> None:
        size = self._size_of(key)
        node = self._nodes.get(key)
        if node is None or node.segment == _DETACHED:
            return
        self._weights[node.segment] += size - node.size
        node.size = size
        if node.segment == _PROBATION or not node.referenced:
            self._sketch.increment(node.x)
            self._touch(node)
        if node.segment == _PROTECTED:
            self._demote()

    def _on_access(self, key: Any) -> None:
        node = self._nodes.get(key)
        if node is None or node.segment == _DETACHED:
            return
        # Buffered and applied in batches, at the same points as the compiled
        # twin (which batches to overlap the batch's cache misses).
        self._buffer.append(node)
        if len(self._buffer) == _HIT_BUFFER:
            self._drain()

    def _drain(self) -> None:
        buffer = self._buffer
        self._buffer = []
        for node in buffer:
            if node.segment == _PROBATION or not node.referenced:     # once per CLOCK round
                self._sketch.increment(node.x)
                self._touch(node)
            self._record(True, node.x)

    def _on_remove(self, key: Any) -> None:
        if self._buffer:
            self._drain()
        node = self._nodes.pop(key, None)
        if node is not None and node.segment != _DETACHED:
            self._unlink(node)

    def _victim(self) -> Any:
        if self._buffer:
            self._drain()
        window, probation, protected = self._segments
        while window and self._weights[_WINDOW] >= self._window_max:
            candidate: _Node = next(iter(window.values()))
            if candidate.referenced:
                candidate.referenced = 0
                self._move(candidate, _WINDOW)
                continue
            main = self._weights[_PROBATION] + self._weights[_PROTECTED]
            if main + candidate.size <= self._maxsize - self._window_max:
                self._move(candidate, _PROBATION)
                continue
            if probation:
                main_victim: _Node = next(iter(probation.values()))
            elif protected:
                main_victim = next(iter(protected.values()))
            else:
                return candidate.key
            if self._sketch.frequency(candidate.x) > self._sketch.frequency(main_victim.x):
                self._move(candidate, _PROBATION)
                return main_victim.key
            return candidate.key
        for segment in (probation, protected, window):
            if segment:
                return next(iter(segment.values())).key
        return _marker

    def _on_clear(self) -> None:
        self._segments: tuple[OrderedDict[int, _Node], ...] = (OrderedDict(), OrderedDict(), OrderedDict())
        self._weights = [0, 0, 0]
        self._nodes: dict[Any, _Node] = {}
        self._buffer = []

    def _policy_state(self, positions: dict[Any, int]) -> Any:
        if self._buffer:
            self._drain()
        return {"segments": [[(positions[n.key], n.referenced) for n in seg.values()] for seg in self._segments],
                "window_max": self._window_max, "sized_for": self._sized_for,
                "climber": (self._climbing, self._direction, self._step, self._previous_rate,
                            self._sample_count, self._sample_hits, self._shadow_hits),
                "sketch": self._sketch.state(), "shadow": self._shadow.state()}

    def _restore_policy(self, state: Any, keys: list[Any]) -> None:
        self._on_clear()
        self._configure(state["sized_for"])
        self._sketch.set_state(state["sketch"])
        self._shadow.set_state(state["shadow"])
        (self._climbing, self._direction, self._step, self._previous_rate,
         self._sample_count, self._sample_hits, self._shadow_hits) = state["climber"]
        for segment, positions in enumerate(state["segments"]):
            for pos, referenced in positions:
                key = keys[pos]
                node = _Node(key, spread(hash(key)), self._size_of(key))
                node.referenced = referenced
                self._nodes[key] = node
                self._append_to(segment, node)
        self._set_window(state["window_max"])

    # ---------------------------------------------------------- inspection

    @property
    def window_maxsize(self) -> int:
        """The window's current share of ``maxsize`` (the climber moves it)."""
        with self._lock:
            self._drain()
            return self._window_max

    def segment_sizes(self) -> dict[str, int]:
        """{"window": w, "probation": p, "protected": q}: the size held by each segment."""
        with self._lock:
            self._drain()
            return dict(zip(_NAMES, self._weights))

    def frequency(self, key: Any) -> int:
        """The sketch's estimate of how often key was used lately (0..15)."""
        with self._lock:
            self._drain()
            return self._sketch.frequency(spread(hash(key)))
