"""Least Frequently Used cache (pure Python twin of ``fastcache._core.lfu``)."""
from __future__ import annotations

import time as _time
from collections import OrderedDict
from typing import Any, Callable, Optional, Union

from .._types import RemovalCause
from ._table import KT, VT, Table, _marker

__all__ = ("LFUCache",)


class _Bucket:
    """The keys used exactly ``count`` times, least recently used first."""

    __slots__ = ("count", "keys", "prev", "next")

    def __init__(self, count: int) -> None:
        self.count = count
        self.keys: OrderedDict[Any, None] = OrderedDict()
        self.prev: _Bucket = self
        self.next: _Bucket = self

    def link_after(self, other: "_Bucket") -> None:
        self.prev = other
        self.next = other.next
        other.next.prev = self
        other.next = self

    def unlink(self) -> None:
        self.prev.next = self.next
        self.next.prev = self.prev


class LFUCache(Table[KT, VT]):
    """Least Frequently Used (LFU) cache: a drop-in for ``cachetools.LFUCache``.

    ``popitem()`` removes the item used least often; among equals, the least
    recently used one.  Structure: the O(1) LFU scheme, a list of frequency
    buckets in increasing count, each an LRU-ordered set of keys.

    ``set(key, value, ttl=...)`` gives an item a time to live, measured on
    ``timer`` (``time.monotonic`` unless injected); expired items are never
    returned, counted or iterated, and the clock is never read until some
    item has a TTL.
    """

    __slots__ = ("_root", "_bucket_of")
    _root: _Bucket
    _bucket_of: dict[Any, _Bucket]

    def __init__(self, maxsize: Union[int, float], getsizeof: Optional[Callable[[Any], int]] = None,
                 *, timer: Callable[[], Any] = _time.monotonic,
                 on_evict: Optional[Callable[[Any, Any, RemovalCause], object]] = None) -> None:
        self._init_table(maxsize, getsizeof, on_evict)
        self._init_expiry(timer, None)

    def _on_clear(self) -> None:
        self._root = _Bucket(0)
        self._bucket_of = {}

    def _on_insert(self, key: Any) -> None:
        first = self._root.next
        if first is self._root or first.count != 1:
            first = _Bucket(1)
            first.link_after(self._root)
        first.keys[key] = None
        self._bucket_of[key] = first

    def _touch(self, key: Any) -> None:
        bucket = self._bucket_of[key]
        nxt = bucket.next
        if nxt is self._root or nxt.count != bucket.count + 1:
            if len(bucket.keys) == 1:
                bucket.count += 1
                return
            nxt = _Bucket(bucket.count + 1)
            nxt.link_after(bucket)
        del bucket.keys[key]
        if not bucket.keys:
            bucket.unlink()
        nxt.keys[key] = None
        self._bucket_of[key] = nxt

    _on_update = _touch
    _on_access = _touch

    def _on_remove(self, key: Any) -> None:
        bucket = self._bucket_of.pop(key)
        del bucket.keys[key]
        if not bucket.keys:
            bucket.unlink()

    def _victim(self) -> Any:
        first = self._root.next
        return _marker if first is self._root else next(iter(first.keys))

    def _policy_state(self, positions: dict[Any, int]) -> Any:
        order: list[tuple[int, int]] = []
        bucket = self._root.next
        while bucket is not self._root:
            order.extend((positions[k], bucket.count) for k in bucket.keys)
            bucket = bucket.next
        return order

    def _restore_policy(self, state: Any, keys: list[Any]) -> None:
        self._on_clear()
        for pos, count in state:
            last = self._root.prev
            if last is self._root or last.count != count:
                bucket = _Bucket(count)
                bucket.link_after(last)
                last = bucket
            last.keys[keys[pos]] = None
            self._bucket_of[keys[pos]] = last

    def counts(self) -> dict[Any, int]:
        """Return {key: use count} (a fastcache extra, for inspection)."""
        return {k: self._bucket_of[k].count for k in self._data}
