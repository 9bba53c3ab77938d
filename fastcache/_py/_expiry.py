"""Per-item expiry for the pure-Python caches: the deadlines and the order they fall due.

One component for every pure cache that expires items (``TTLCache``,
``AdaptiveCache``): the deadline of each key (``inf``: never), the TTL it
was written with, and a heap of ``(expires, write number, key)`` records.
Rewriting a key leaves its old record stale (its write number no longer
matches); stale records are skipped when they reach the top and dropped
when the heap is rebuilt.  The owner reads the clock, asks
:meth:`pop_due` for the next key whose time has come, and removes it
(calling :meth:`forget`, as for every removal).
"""
from __future__ import annotations

import heapq
import math
from typing import Any, Optional

__all__ = ("Expiry", "NONE_DUE")

#: What :meth:`Expiry.pop_due` returns when no key is due.
NONE_DUE: Any = object()


class Expiry:
    """Deadlines by key, and a heap ordering the finite ones by (time, write)."""

    __slots__ = ("_deadlines", "_heap", "_seq")

    def __init__(self) -> None:
        self._deadlines: dict[Any, tuple[float, int, Optional[float]]] = {}
        self._heap: list[tuple[float, int, Any]] = []
        self._seq = 0

    def schedule(self, key: Any, expires: float, ttl: Optional[float] = None) -> None:
        """key expires at ``expires`` (``inf``: never); ``ttl`` is kept for pickling."""
        self._seq += 1
        self._deadlines[key] = (expires, self._seq, ttl)
        if expires < math.inf:
            heapq.heappush(self._heap, (expires, self._seq, key))
            if len(self._heap) > 2 * len(self._deadlines) + 64:
                self._compact()

    def forget(self, key: Any) -> None:
        """key was removed: its records are stale from now on."""
        self._deadlines.pop(key, None)

    def expires(self, key: Any) -> float:
        """key's deadline (``inf``: never, or not scheduled)."""
        record = self._deadlines.get(key)
        return math.inf if record is None else record[0]

    def write_number(self, key: Any) -> int:
        """The write that scheduled key (0: never scheduled); orders keys by write for pickling."""
        record = self._deadlines.get(key)
        return 0 if record is None else record[1]

    def deadline(self, key: Any) -> Optional[float]:
        """key's deadline, or None if it was never scheduled (or was forgotten)."""
        record = self._deadlines.get(key)
        return None if record is None else record[0]

    def next_due(self) -> float:
        """No key falls due before this time (a stale record may make it early)."""
        return self._heap[0][0] if self._heap else math.inf

    def pop_due(self, now: float) -> Any:
        """The next key whose deadline is ``<= now`` (its record consumed), or :data:`NONE_DUE`."""
        heap, deadlines = self._heap, self._deadlines
        while heap:
            expires, seq, key = heap[0]
            record = deadlines.get(key)
            if record is None or record[1] != seq:
                heapq.heappop(heap)                 # stale: rewritten or removed since
                continue
            if now < expires:
                return NONE_DUE
            heapq.heappop(heap)
            return key
        return NONE_DUE

    def records(self) -> list[tuple[Any, float, Optional[float]]]:
        """(key, expires, ttl) for every scheduled key, in expiry order (ties: write order), for pickling."""
        return [(k, e, ttl) for k, (e, _, ttl) in sorted(self._deadlines.items(), key=lambda kv: kv[1][:2])]

    def clear(self) -> None:
        self._deadlines.clear()
        self._heap = []

    def _compact(self) -> None:
        self._heap = [(e, s, k) for k, (e, s, _) in self._deadlines.items() if e < math.inf]
        heapq.heapify(self._heap)
