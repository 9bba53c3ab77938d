"""Key functions for memoizing decorators (cachetools' ``keys`` contract)."""
from __future__ import annotations

from typing import Any

__all__ = ("hashkey", "methodkey", "typedkey", "typedmethodkey")


class _KwargsMark:
    """Separates positional from keyword arguments in a key.

    A class, not an instance, so the separator keeps its identity (and its
    equality) when keys are pickled and loaded in another process.
    """


_kwmark = (_KwargsMark,)


def hashkey(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
    """Return a cache key for the specified hashable arguments.

    Keyword order does not matter: ``f(a=1, b=2)`` and ``f(b=2, a=1)`` share a key.
    """
    if kwargs:
        return args + _kwmark + tuple(sorted(kwargs.items()))
    return args


def methodkey(self: Any, /, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
    """Return a cache key for use with cached methods (``self`` is left out)."""
    return hashkey(*args, **kwargs)


def typedkey(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
    """Return a typed cache key: ``f(3)`` and ``f(3.0)`` get different keys."""
    key = hashkey(*args, **kwargs)
    if kwargs:
        key += tuple(type(v) for _, v in sorted(kwargs.items()))
    return key + tuple(map(type, args))


def typedmethodkey(self: Any, /, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
    """Return a typed cache key for use with cached methods."""
    return typedkey(*args, **kwargs)
