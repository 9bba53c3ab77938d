"""Tags (surrogate keys): remove every entry carrying a tag in one call.

:class:`TagIndex` is one process's map tag -> keys (and key -> tags), kept
beside an L1 cache; it is what makes ``invalidate_tag`` cost O(entries with
that tag) instead of a scan.  Entries the cache evicts or expires on its own
are not reported to the index, so it forgets them lazily: whenever it holds
twice as many keys as the cache (at least ``min_prune`` keys), the keys no
longer in the cache are pruned - amortised O(1) per ``add``.

:class:`TaggedCache` puts tags on any L1 cache.  The Redis caches keep one
Redis set of keys per tag (``RedisCache.set(..., tags=)``); ``TieredCache``
uses both and tells every other process (see ``invalidate_tag``).
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Iterable, Optional

from ._types import DEFAULT

__all__ = ("TagIndex", "TaggedCache", "check_tag", "check_tags")


def check_tag(tag: Any) -> str:
    """A tag must be a non-empty str."""
    if not isinstance(tag, str):
        raise TypeError(f"tags must be str, not {type(tag).__name__}")
    if not tag:
        raise ValueError("tags must not be empty strings")
    return tag


def check_tags(tags: Optional[Iterable[str]]) -> tuple[str, ...]:
    """Tags as a tuple of distinct non-empty str (TypeError/ValueError otherwise)."""
    if tags is None:
        return ()
    if isinstance(tags, (str, bytes)):
        raise TypeError("tags must be an iterable of str, not a single string")
    return tuple(dict.fromkeys(check_tag(t) for t in tags))


class TagIndex:
    """tag -> keys and key -> tags for one process's cache (thread-safe)."""

    def __init__(self, alive: Callable[[Any], bool], capacity: Callable[[], int], min_prune: int = 1024) -> None:
        self._alive = alive
        self._capacity = capacity
        self._min_prune = min_prune
        self._by_tag: dict[str, set[Any]] = {}
        self._by_key: dict[Any, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def add(self, key: Any, tags: tuple[str, ...]) -> None:
        """Key now carries exactly these tags (none: forget it)."""
        with self._lock:
            self._unlink(key)
            if tags:
                self._by_key[key] = tags
                for t in tags:
                    self._by_tag.setdefault(t, set()).add(key)
            if len(self._by_key) > max(self._min_prune, 2 * self._capacity()):
                self._prune()

    def discard(self, key: Any) -> None:
        """Forget key."""
        with self._lock:
            self._unlink(key)

    def pop_tag(self, tag: str) -> set[Any]:
        """The keys carrying tag, now forgotten by the index."""
        with self._lock:
            keys = self._by_tag.pop(tag, set())
            for k in keys:
                tags = tuple(t for t in self._by_key.get(k, ()) if t != tag)
                if tags:
                    self._by_key[k] = tags
                else:
                    self._by_key.pop(k, None)
            return keys

    def tags_of(self, key: Any) -> tuple[str, ...]:
        """The tags key carries here."""
        return self._by_key.get(key, ())

    def keys_of(self, tag: str) -> set[Any]:
        """A copy of the keys carrying tag."""
        with self._lock:
            return set(self._by_tag.get(tag, ()))

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._by_tag.clear()
            self._by_key.clear()

    def __len__(self) -> int:
        return len(self._by_key)

    def _unlink(self, key: Any) -> None:
        for t in self._by_key.pop(key, ()):
            keys = self._by_tag.get(t)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[t]

    def _prune(self) -> None:
        for key in [k for k in self._by_key if not self._alive(k)]:
            self._unlink(key)


def _capacity_of(cache: Any) -> Callable[[], int]:
    maxsize = getattr(cache, "maxsize", None)
    if isinstance(maxsize, int):
        return lambda: maxsize
    return lambda: len(cache)


class TaggedCache:
    """Any L1 cache with ``set(key, value, ttl=None, tags=[...])`` and
    ``invalidate_tag(tag)``; everything else is the wrapped cache's.

    Subscribe it to an :class:`~fastcache.patterns.InvalidationBus` to apply
    other processes' tag events too.
    """

    def __init__(self, cache: Any) -> None:
        for name in ("get", "pop", "__contains__", "__setitem__"):
            if not hasattr(cache, name):
                raise TypeError(f"cache must be a mutable mapping (a fastcache cache); it has no {name}")
        self.cache = cache
        self.tags = TagIndex(lambda k: k in cache, _capacity_of(cache))

    def set(self, key: Any, value: Any, ttl: Any = None, tags: Optional[Iterable[str]] = None) -> None:
        """Store value (with ``ttl`` if the cache takes one), carrying ``tags``."""
        checked = check_tags(tags)
        if ttl is None or ttl is DEFAULT:
            self.cache[key] = value
        else:
            setter = getattr(self.cache, "set", None)
            if setter is None:
                raise TypeError(f"{type(self.cache).__name__} has no per-item TTL; use a fastcache cache")
            setter(key, value, ttl=ttl)
        self.tags.add(key, checked)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.cache[key] = value
        self.tags.discard(key)

    def __getitem__(self, key: Any) -> Any:
        return self.cache[key]

    def __contains__(self, key: Any) -> bool:
        return key in self.cache

    def __len__(self) -> int:
        return len(self.cache)

    def get(self, key: Any, default: Any = None) -> Any:
        """The wrapped cache's get."""
        return self.cache.get(key, default)

    def pop(self, key: Any, default: Any = None) -> Any:
        """Remove key (and its tags)."""
        self.tags.discard(key)
        return self.cache.pop(key, default)

    def delete(self, key: Any) -> bool:
        """Remove key; whether it was there."""
        self.tags.discard(key)
        return self.cache.pop(key, DEFAULT) is not DEFAULT

    def invalidate_tag(self, tag: str) -> list[Any]:
        """Remove every entry carrying tag; the keys removed."""
        removed = []
        for key in self.tags.pop_tag(check_tag(tag)):
            if self.cache.pop(key, DEFAULT) is not DEFAULT:
                removed.append(key)
        return removed

    def clear(self) -> None:
        """Empty the cache and the tag index."""
        self.cache.clear()
        self.tags.clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cache, name)

    def __repr__(self) -> str:
        return f"TaggedCache({self.cache!r})"
