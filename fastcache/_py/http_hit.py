"""Pure-Python twin of ``fastcache._core.http_hit``: the ASGI middleware's common hit.

A GET without Cache-Control, Pragma or conditional headers, whose URL holds one fresh,
un-Vary'd entry in a process-local cache, is answered from the raw scope: no header
is decoded, the URL's cache key is made once, the entry's headers are encoded once;
anything else goes on to the full path (with what was read from the cache).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

# request headers that take a GET off this path: they change what is served
# (Cache-Control, Pragma: freshness; conditionals: a 304)
DECIDING = frozenset((b"cache-control", b"pragma", b"if-none-match", b"if-modified-since"))
UNREAD: Any = object()          # the full path reads the cache itself
NO_CACHE = 1                    # fastcache.http.entry.NO_CACHE


class PlainHits:
    """The common hit of one middleware (see the module docstring)."""

    def __init__(self, make_key: Callable[[str, str, str], str], cache_get: Callable[[Any], Any], trusted: bool,
                 timer: Callable[[], float], x_cache: bytes, hit_label: bytes, stats: Any, lock: Any,
                 fmt: str, entry_type: type, variants_of: Callable[[Any, Any, bool], Any],
                 encode: Callable[[Any], list[tuple[bytes, bytes]]]) -> None:
        self._make_key = make_key
        self._cache_get = cache_get
        self._trusted = trusted
        self._timer = timer
        self._x_cache = (x_cache, hit_label)
        self._stats = stats
        self._lock = lock
        self._format = fmt
        self._entry_type = entry_type
        self._variants_of = variants_of
        self._encode = encode
        self._keys: dict[tuple[bytes, str, bytes], str] = {}
        self._encoded: dict[int, tuple[Any, list[tuple[bytes, bytes]]]] = {}

    def get(self, scope: Any) -> "tuple[Optional[dict[str, Any]], Any]":
        """(the response-start message, the body) for a plain hit; else (None, what the
        cache held for the URL - or UNREAD - for the full path)."""
        host = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
            elif name in DECIDING:
                return None, UNREAD
        if host is None:
            return None, UNREAD
        url = (host, scope["path"], scope.get("query_string", b""))
        key = self._keys.get(url)
        if key is None:
            if len(self._keys) >= 4096:
                self._keys.clear()
            key = self._keys[url] = self._make_key(host.decode("latin-1"), url[1], url[2].decode("latin-1"))
        try:
            value = self._cache_get(key)
        except Exception:
            return None, UNREAD             # the full path logs it
        entries = self._variants_of(value, key, self._trusted)
        if not entries:
            return None, entries
        entry = entries[0]
        now = self._timer()
        age = entry.age0 + max(0.0, now - entry.stored)
        if entry.vary or entry.flags & NO_CACHE or not age < entry.lifetime:
            return None, entries
        with self._lock:
            self._stats.hits += 1
        stored = entry.headers
        memo = self._encoded.get(id(stored))
        if memo is None or memo[0] is not stored:
            if len(self._encoded) >= 4096:
                self._encoded.clear()
            memo = self._encoded[id(stored)] = (stored, self._encode(stored))
        headers = memo[1] + [(b"age", b"%d" % int(age)), self._x_cache]
        return {"type": "http.response.start", "status": entry.status, "headers": headers}, entry.body
