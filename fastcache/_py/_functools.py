"""Pure-Python twin of ``fastcache._core._functools``: the ``lru_cache`` wrapper."""
from __future__ import annotations

import threading
import types
from typing import Any, Callable, Optional

from .lru import LRUCache

__all__ = ("LRUCacheWrapper",)

_KWD_MARK = object()
_missing = object()


def make_key(args: tuple[Any, ...], kwds: dict[str, Any], typed: bool) -> Any:
    """Build a key as functools.lru_cache does (kwargs in call order)."""
    if not kwds and not typed:
        if len(args) == 1 and type(args[0]) in (int, str):
            return args[0]
        return args
    key = args
    if kwds:
        key += (_KWD_MARK,)
        for item in kwds.items():
            key += item
    if typed:
        key += tuple(type(v) for v in args)
        if kwds:
            key += tuple(type(v) for v in kwds.values())
    return key


class LRUCacheWrapper:
    """A function wrapped by ``lru_cache``; see ``functools.lru_cache``."""

    def __init__(self, func: Callable[..., Any], maxsize: Optional[int], typed: bool,
                 cache_info_type: Callable[..., Any]) -> None:
        self._func = func
        self._typed = typed
        self._info = cache_info_type
        self._maxsize_obj = maxsize
        self._maxsize = -1 if maxsize is None else maxsize
        self._lru: Optional[LRUCache[Any, Any]] = LRUCache(self._maxsize) if self._maxsize > 0 else None
        self._unbounded: dict[Any, Any] = {}
        self._hits = self._misses = 0
        self._lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._maxsize == 0:
            self._misses += 1
            return self._func(*args, **kwargs)
        key = make_key(args, kwargs, self._typed)
        store: Any = self._lru if self._lru is not None else self._unbounded
        with self._lock:
            result = store.get(key, _missing)
            if result is not _missing:
                self._hits += 1
                return result
            self._misses += 1
        result = self._func(*args, **kwargs)
        with self._lock:
            if key not in store:        # a recursive or concurrent call may have stored it
                store[key] = result
        return result

    def cache_info(self) -> Any:
        """Report cache statistics: CacheInfo(hits, misses, maxsize, currsize)."""
        with self._lock:
            store: Any = self._lru if self._lru is not None else self._unbounded
            return self._info(self._hits, self._misses, self._maxsize_obj, len(store))

    def cache_clear(self) -> None:
        """Clear the cache and its statistics."""
        with self._lock:
            if self._lru is not None:
                self._lru.clear()
            self._unbounded.clear()
            self._hits = self._misses = 0

    def cache_parameters(self) -> dict[str, Any]:
        """Return {'maxsize': ..., 'typed': ...}."""
        return {"maxsize": self._maxsize_obj, "typed": self._typed}

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else types.MethodType(self, obj)

    def __reduce__(self) -> str:
        return self.__qualname__  # type: ignore[no-any-return, attr-defined]

    def __copy__(self) -> "LRUCacheWrapper":
        return self

    def __deepcopy__(self, memo: Any) -> "LRUCacheWrapper":
        return self
