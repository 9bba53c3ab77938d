"""Method keys that do not keep ``self`` alive.

``functools.lru_cache`` and ``cachetools.cached`` on a method put ``self`` in
every key, so the cache keeps each instance alive as long as its entries
live (flake8-bugbear's B019).  fastcache's ``cached`` puts a
:class:`SelfToken` there instead: one small object per live instance, holding
only a weak reference, equal to nothing but itself.  Entries of a collected
instance can no longer be hit and age out of the cache like any cold entry.
Instances that cannot be weakly referenced (``__slots__`` without
``__weakref__``) are used as they are, as cachetools would.
"""
from __future__ import annotations

import threading
import types
import weakref
from typing import Any, Callable

from .keys import hashkey

__all__ = ("SelfToken", "self_token", "BoundCachedMethod", "WeakMethodBinding")

_tokens: dict[int, "SelfToken"] = {}
_lock = threading.Lock()


class SelfToken:
    """Stands for one live instance in cache keys (identity equality, weak reference)."""

    __slots__ = ("ref", "_hash", "__weakref__")

    def __init__(self, obj: Any) -> None:
        ident = id(obj)
        self.ref = weakref.ref(obj, lambda _r: _forget(ident, self_ref))
        self_ref = weakref.ref(self)
        self._hash = hash(("fastcache.self", ident))

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        obj = self.ref()
        return f"<self of {type(obj).__name__} at {id(obj):#x}>" if obj is not None else "<self of a collected object>"

    def __reduce__(self) -> Any:
        raise TypeError("keys of cached methods name a live instance and cannot be pickled")


def _forget(ident: int, token_ref: "weakref.ref[SelfToken]") -> None:
    with _lock:
        if _tokens.get(ident) is token_ref():
            del _tokens[ident]


def self_token(obj: Any) -> Any:
    """The token for obj (made on first use), or obj itself if it has no weak references."""
    tok = _tokens.get(id(obj))
    if tok is not None and tok.ref() is obj:
        return tok
    with _lock:
        tok = _tokens.get(id(obj))
        if tok is not None and tok.ref() is obj:
            return tok
        try:
            tok = SelfToken(obj)
        except TypeError:
            return obj
        _tokens[id(obj)] = tok
        return tok


class BoundCachedMethod:
    """A cached function bound to an instance: calls ``wrapper.call_bound(obj, args, kwargs)``."""

    __slots__ = ("__func__", "__self__", "_token")

    def __init__(self, func: Any, obj: Any) -> None:
        self.__func__ = func
        self.__self__ = obj
        self._token = self_token(obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__func__.call_bound(self.__self__, args, kwargs, self._token)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__func__, name)

    def __repr__(self) -> str:
        return f"<bound cached method {getattr(self.__func__, '__qualname__', '?')} of {self.__self__!r}>"


class WeakMethodBinding:
    """Binding for the pure-Python cached wrappers: with the default key, a method's
    key names the instance by its :class:`SelfToken` (custom keys get ``self``)."""

    cache_key: Callable[..., Any]

    def _call_keyed(self, key: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        raise NotImplementedError

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        if self.cache_key is not hashkey:
            return types.MethodType(self, obj)  # type: ignore[arg-type]  # subclasses are callable
        return BoundCachedMethod(self, obj)

    def call_bound(self, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any], token: Any = None) -> Any:
        """Call as a method of obj, keyed by obj's weak token instead of obj."""
        if token is None:
            token = self_token(obj)
        return self._call_keyed(self.cache_key(token, *args, **kwargs), (obj,) + args, kwargs)
