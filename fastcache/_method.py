"""``@cachedmethod``: a descriptor that gives each instance its own memoized method.

The contract is cachetools 8's.  The decorator returns a :class:`CachedMethod`
descriptor; its class body name comes from ``__set_name__`` (a descriptor
assigned after the class was created raises ``TypeError`` on use).  The first
access through an instance builds a :class:`BoundCachedMethod` and stores it
in the instance's ``__dict__`` under the method's name, so later calls find it
there without running the descriptor again; ``cache(self)``, ``lock(self)`` and
``condition(self)`` are asked on every call, so they may change at run time.
Access through the class returns an :class:`UnboundCachedMethod`, which takes
the receiver as its first argument.

Instances, their bound wrappers and the descriptor pickle and deep-copy:
the descriptor by reference (its class and name), a bound wrapper by
rebuilding it from the descriptor (its hit and miss counts restart).
"""
from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Optional

from ._py._functools import _make_info as make_info
from ._py._functools import call_locked
from ._types import CacheInfo

__all__ = ("CachedMethod", "BoundCachedMethod", "UnboundCachedMethod")


def _descriptor_of(owner: type, name: str) -> Any:
    """The descriptor in ``owner``'s class body (how a descriptor pickles: by reference)."""
    return owner.__dict__[name]


class CachedMethod:
    """What ``@cachedmethod(...)`` puts in the class body: a descriptor.

    ``__get__`` with an instance returns its :class:`BoundCachedMethod` (made
    once and kept in the instance's ``__dict__``); with the class, the shared
    :class:`UnboundCachedMethod`.
    """

    def __init__(self, method: Callable[..., Any], cache: Callable[[Any], Any], key: Callable[..., Any],
                 lock: Optional[Callable[[Any], Any]], condition: Optional[Callable[[Any], Any]],
                 info: bool) -> None:
        functools.update_wrapper(self, method)
        self.method = method
        self.cache = cache
        self.key = key
        self.lock = lock
        self.condition = condition
        self.info = info
        self.owner: Optional[type] = None
        self.name: Optional[str] = None
        self._unbound: Optional[UnboundCachedMethod] = None

    def __set_name__(self, owner: type, name: str) -> None:
        if self.name is None:
            self.owner, self.name = owner, name
        elif name != self.name:
            raise TypeError(f"Cannot assign the same @cachedmethod to two different names "
                            f"({self.name!r} and {name!r})")

    def bind(self, obj: Any) -> "BoundCachedMethod":
        """A new bound wrapper for ``obj`` (not stored anywhere)."""
        cls = BoundCachedInfoMethod if self.info else BoundCachedMethod
        return cls(obj, self)

    def __get__(self, obj: Any, objtype: Optional[type] = None) -> Any:
        name = self.name
        if name is None:
            if isinstance(obj, type):
                # before Python 3.13, @classmethod calls __get__(cls, type(cls)) without __set_name__
                self.__call__()
            raise TypeError("Cannot use @cachedmethod without __set_name__ being called on it: "
                            "define it in a class body (assigning it to a class afterwards is not supported)")
        if obj is None:
            if self._unbound is None:
                self._unbound = UnboundCachedMethod(self)
            return self._unbound
        try:
            instance_dict = obj.__dict__
        except AttributeError:
            raise TypeError(f"No '__dict__' attribute on {type(obj).__name__!r} instance "
                            f"to cache {name!r}") from None
        for klass in type(obj).__mro__:
            if name in klass.__dict__:
                found = klass.__dict__[name]
                break
        else:
            found = None
        try:
            if found is self:
                # Later lookups find the wrapper in the instance dict; if another
                # thread stored one first, that one wins.
                return instance_dict.setdefault(name, self.bind(obj))
            # Reached through super(): keep a wrapper per descriptor beside the
            # instance's own, so an override's and its base's caches stay apart.
            wrappers = instance_dict.setdefault("__fastcache_cachedmethods__", {})
        except (AttributeError, TypeError):
            raise TypeError(f"The '__dict__' attribute on {type(obj).__name__!r} instance does not "
                            f"support item assignment for caching {name!r}") from None
        wrapper = wrappers.get(self)
        if wrapper is None:
            wrapper = wrappers.setdefault(self, self.bind(obj))
        return wrapper

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        # Reached when another decorator wraps the descriptor (staticmethod, classmethod, property).
        raise TypeError("Cannot call a @cachedmethod descriptor directly: @cachedmethod must be the "
                        "outermost decorator of a plain method (class methods, static methods and "
                        "properties are not supported)")

    def __reduce__(self) -> Any:
        if self.owner is None or self.name is None:
            raise TypeError("Cannot pickle a @cachedmethod that is not in a class body")
        return (_descriptor_of, (self.owner, self.name))

    def __repr__(self) -> str:
        return f"<cachedmethod descriptor {self.method!r}>"


class BoundCachedMethod:
    """A memoized method of one instance: ``obj.method`` after ``@cachedmethod``.

    Calls follow cachetools' protocol: without a lock, look up, call on a miss,
    store (a value too large is returned uncached); with ``lock``, the lookup
    and the store run under ``lock(self)`` and a value stored meanwhile wins;
    with ``condition``, one caller per key computes while the others wait.
    """

    def __init__(self, obj: Any, descriptor: CachedMethod) -> None:
        functools.update_wrapper(self, descriptor.method)
        self._obj = obj
        self._descriptor = descriptor
        self._method = descriptor.method
        self._cache_of = descriptor.cache
        self._key = descriptor.key
        self._lock_of = descriptor.lock if descriptor.lock is not None else descriptor.condition
        self._condition_of = descriptor.condition
        self._pending: set[Any] = set()
        self._hits = self._misses = 0
        self.cache_key = functools.partial(descriptor.key, obj)

    @property
    def cache(self) -> Any:
        """``cache(self)``: this instance's cache."""
        return self._cache_of(self._obj)

    @property
    def cache_lock(self) -> Any:
        """``lock(self)``, or None without a lock (with only a condition: the condition)."""
        return None if self._lock_of is None else self._lock_of(self._obj)

    @property
    def cache_condition(self) -> Any:
        """``condition(self)``, or None."""
        return None if self._condition_of is None else self._condition_of(self._obj)

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        obj = self._obj
        cache = self._cache_of(obj)
        key = self._key(obj, *args, **kwargs)
        if self._lock_of is None:
            try:
                result = cache[key]
            except KeyError:
                self._misses += 1
            else:
                self._hits += 1
                return result
            value = self._method(obj, *args, **kwargs)
            try:
                cache[key] = value
            except ValueError:
                pass                    # too large to cache
            return value
        condition = None if self._condition_of is None else self._condition_of(obj)
        return call_locked(self, cache, key, self._lock_of(obj), condition, self._method, (obj, *args), kwargs)

    def cache_clear(self) -> None:
        """Clear this instance's cache (and its hit and miss counts)."""
        if self._lock_of is None:
            self._cache_of(self._obj).clear()
            self._hits = self._misses = 0
            return
        with self._lock_of(self._obj):
            self._cache_of(self._obj).clear()
            self._hits = self._misses = 0

    def __reduce__(self) -> Any:
        # rebuilt from the descriptor: the lock and the counts are not pickled
        return (self._descriptor.__get__, (self._obj,))

    def __repr__(self) -> str:
        return f"<cachedmethod {self._method!r} of {object.__repr__(self._obj)}>"


class BoundCachedInfoMethod(BoundCachedMethod):
    """``@cachedmethod(..., info=True)``: adds ``cache_info()``."""

    def cache_info(self) -> CacheInfo:
        """CacheInfo(hits, misses, maxsize, currsize) of this instance's calls and cache."""
        if self._lock_of is None:
            return make_info(self._cache_of(self._obj), self._hits, self._misses)
        with self._lock_of(self._obj):
            return make_info(self._cache_of(self._obj), self._hits, self._misses)


class UnboundCachedMethod:
    """``Class.method`` after ``@cachedmethod``: call it with the instance first.

    A callable object rather than a function, so ``unittest.mock.create_autospec``
    sees the receiver in its signature as for a plain method.
    """

    def __init__(self, descriptor: CachedMethod) -> None:
        functools.update_wrapper(self, descriptor.method)
        self._descriptor = descriptor
        self._receiver: Optional[str] = None

    def __get__(self, obj: Any, objtype: Optional[type] = None) -> Any:
        # aliased in another class body, it binds like a method
        return self if obj is None else self._descriptor.__get__(obj)

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        if args:
            obj, args = args[0], args[1:]
        else:
            obj = kwargs.pop(self._receiver_name(), _NO_RECEIVER)
            if obj is _NO_RECEIVER:
                raise TypeError("Cannot call a @cachedmethod through the class without an instance")
        return self._descriptor.__get__(obj)(*args, **kwargs)

    def _receiver_name(self) -> str:
        if self._receiver is None:
            self._receiver = ""
            try:
                first = next(iter(inspect.signature(self._descriptor.method).parameters.values()))
            except (ValueError, TypeError, StopIteration):
                pass
            else:
                if first.kind is first.POSITIONAL_OR_KEYWORD:
                    self._receiver = first.name
        return self._receiver

    def __reduce__(self) -> Any:
        return (self._descriptor.__get__, (None,))

    def __repr__(self) -> str:
        return f"<cachedmethod {self._descriptor.method!r}>"


_NO_RECEIVER = object()
