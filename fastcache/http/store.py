"""Where the responses live: keys, tags, and one interface over every cache.

Each URL is one cache key (its ``Vary`` variants share the value), so a
purge or an invalidating ``POST`` removes every variant at once.  Entries
carry tags: the app's ``Surrogate-Key`` values as given, ``fc-http:path:P``
for ``purge(path)``, and ``fc-http:prefix:D`` for every directory ``D`` above
the path (``/``, ``/a/``, ``/a/b/`` for ``/a/b/c``) for ``purge_prefix`` - a
handful of tags per entry, so a prefix purge costs what a tag purge costs,
in every process that shares the cache's tag invalidation.
"""
from __future__ import annotations

import inspect
import re
from typing import Any, Optional

from ..tags import TaggedCache

__all__ = ("path_tag", "prefix_tags", "prefix_purge_tags", "HTTPStore", "MAX_PREFIX_DEPTH")

TAG_NS = "fc-http:"
MAX_PREFIX_DEPTH = 8      # directory levels tagged; a deeper prefix purge drops its level-8 ancestor


_SPACE = re.compile(r"\s")


def _tag_safe(path: str) -> str:
    """Whitespace percent-encoded: tags travel space-separated in Surrogate-Key."""
    return _SPACE.sub(lambda m: f"%{ord(m.group()):02X}", path) if _SPACE.search(path) else path


def path_tag(path: str) -> str:
    """The tag every cached response for path carries (any query, any variant)."""
    return f"{TAG_NS}path:{_tag_safe(path)}"


def prefix_tags(path: str) -> list[str]:
    """The directory tags for path: one per directory above it, up to MAX_PREFIX_DEPTH."""
    tags = []
    path = _tag_safe(path)
    end = path.find("/")
    depth = 0
    while end != -1 and depth <= MAX_PREFIX_DEPTH:
        tags.append(f"{TAG_NS}prefix:{path[:end + 1]}")
        end = path.find("/", end + 1)
        depth += 1
    return tags


def prefix_purge_tags(prefix: str) -> list[str]:
    """The tags whose purge drops every path under prefix.

    ``"/api/"`` is the directory; ``"/api/users"`` is the path itself and the
    directory ``"/api/users/"`` (not ``"/api/users-admin"``)."""
    if not isinstance(prefix, str):
        raise TypeError(f"a prefix is a str, not {type(prefix).__name__}")
    if not prefix.startswith("/"):
        raise ValueError(f"a prefix starts with '/', got {prefix!r}")
    directory = _tag_safe(prefix if prefix.endswith("/") else prefix + "/")
    if directory.count("/") - 1 > MAX_PREFIX_DEPTH:
        cut = -1
        for _ in range(MAX_PREFIX_DEPTH + 1):
            cut = directory.index("/", cut + 1)
        directory = directory[:cut + 1]        # over-purges: never leaves a stale response
    tags = [f"{TAG_NS}prefix:{directory}"]
    if not prefix.endswith("/"):
        tags.append(path_tag(prefix))
    return tags


def _is_async(cache: Any) -> bool:
    return inspect.iscoroutinefunction(getattr(cache, "get", None))


class HTTPStore:
    """Get, set (with a storage TTL and tags), delete and purge on any fastcache cache.

    L1 mappings without tags are wrapped in :class:`~fastcache.tags.TaggedCache`;
    ``RedisCache``, ``TieredCache`` and their asyncio versions tag natively.
    Methods return awaitables when the cache is an asyncio one (``is_async``).
    """

    def __init__(self, cache: Any, prefix: str = "http:") -> None:
        if cache is None:
            raise TypeError("cache is required: any fastcache cache (LRUCache, TTLCache, RedisCache, TieredCache...)")
        self.is_async = _is_async(cache)
        if not hasattr(cache, "invalidate_tag"):
            for name in ("get", "pop", "__setitem__"):
                if not hasattr(cache, name):
                    raise TypeError(f"cache must be a fastcache cache (a mutable mapping, a RedisCache or a "
                                    f"TieredCache); {type(cache).__name__} has no {name}")
            self.takes_ttl = hasattr(cache, "set")
            cache = TaggedCache(cache)
            self.trusted = True             # a local mapping: values are the objects this process stored
        else:
            self.takes_ttl = True
            self.trusted = False            # Redis (or an L2 behind a TieredCache): decoded, untrusted data
        self.cache = cache
        self.prefix = prefix

    def key(self, host: str, path: str, query: str) -> str:
        """The cache key of a URL."""
        return f"{self.prefix}{host}{path}?{query}" if query else f"{self.prefix}{host}{path}"

    def get(self, key: str) -> Any:
        """The stored value (or an awaitable of it)."""
        return self.cache.get(key)

    def set(self, key: str, value: Any, ttl: float, tags: list[str]) -> Any:
        """Store value with tags, expiring after ttl seconds where the cache takes a TTL."""
        if self.takes_ttl:
            return self.cache.set(key, value, ttl=ttl, tags=tags)
        return self.cache.set(key, value, tags=tags)

    def delete(self, key: str) -> Any:
        """Drop the URL (every variant)."""
        return self.cache.delete(key)

    def invalidate_tag(self, tag: str) -> Any:
        """Drop every response carrying tag (in every process, where the cache tells them)."""
        return self.cache.invalidate_tag(tag)


def response_tags(path: str, surrogate_keys: Optional[str]) -> list[str]:
    """An entry's tags: the Surrogate-Key values, the path tag and the directory tags."""
    tags = surrogate_keys.split() if surrogate_keys else []
    tags.append(path_tag(path))
    tags.extend(prefix_tags(path))
    return list(dict.fromkeys(tags))
