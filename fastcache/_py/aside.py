"""Pure-Python twin of ``fastcache._core.aside`` (the compiled hit path of ``CacheAside``).

The engine's Python code already answers hits inline, so this front adds nothing but
the names: ``get``/``call``/``acall`` go straight to ``get_call``/``aget_call``.
``Completed`` has the compiled class's protocol.
"""
from __future__ import annotations

import collections.abc
from typing import Any, Callable, Generator, NoReturn, Optional


class Completed:
    """An awaitable whose result is already known: ``await`` gives it at once (it has
    the coroutine protocol, so asyncio takes it for a coroutine)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, Any]:
        return self

    def __iter__(self) -> "Completed":
        return self

    def __next__(self) -> NoReturn:
        raise StopIteration(self.value)

    def send(self, arg: Any) -> NoReturn:
        """Start it: it ends at once with its value (StopIteration)."""
        raise StopIteration(self.value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> NoReturn:
        """Raise the exception thrown in (nothing is running to catch it)."""
        raise typ if val is None else val

    def close(self) -> None:
        """Nothing to close."""

    def __repr__(self) -> str:
        return f"<Completed {self.value!r}>"


collections.abc.Coroutine.register(Completed)


class AsideFront:
    """Base of ``CacheAside`` (pure): every read goes to the engine's Python code."""

    fast_hits = 0

    if False:  # pragma: no cover - provided by the engine
        def get_call(self, key: Any, func: Any, args: tuple[Any, ...], kwargs: Any,
                     loader: Any = None, raw: Any = None) -> Any: ...

        def aget_call(self, key: Any, func: Any, args: tuple[Any, ...], kwargs: Any,
                      loader: Any = None, raw: Any = None) -> Any: ...

    def _setup_front(self, cache: Any, miss: Any, unread: Any, mark: str, enveloped: bool, fresh_fraction: float,
                     xfetch: bool, timer: Optional[Callable[[], float]], is_async: bool) -> None:
        """Nothing to set up: the engine decides every read."""

    def _forget_cache(self) -> None:
        """Nothing is held here."""

    def get(self, key: Any, loader: Optional[Callable[[Any], Any]] = None) -> Any:
        """The value for key, loading it on a miss (see ``CacheAside``)."""
        return self.get_call(key, None, (key,), None, loader)

    def call(self, key: Any, func: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
        """``get_call``: ``func(*args, **kwargs)`` loads on a miss."""
        return self.get_call(key, func, args, kwargs)

    def acall(self, key: Any, func: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
        """``aget_call`` (a coroutine)."""
        return self.aget_call(key, func, args, kwargs)


class CachedCall:
    """The call path of ``@cached`` over a ``CacheAside`` engine (``CachedFunction``'s base):
    the argument tuple is the key with the default key function and no keyword arguments."""

    engine: Any
    cache_key: Callable[..., Any]
    is_coroutine: bool

    def _setup_call(self, func: Callable[..., Any], engine: Any, key: Callable[..., Any], default_key: bool,
                    is_coroutine: bool, engine_is_async: bool) -> None:
        self._func = func
        self.engine = engine
        self.cache_key = key
        self._default_key = default_key
        self.is_coroutine = is_coroutine
        self._sync_engine = not engine_is_async

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs:
            return self._call_keyed(args if self._default_key else self.cache_key(*args), args, None)
        return self._call_keyed(self.cache_key(*args, **kwargs), args, kwargs)

    def _call_keyed(self, key: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
        """Call with a key already made (``args`` are the function's arguments)."""
        if self.is_coroutine:
            return self.engine.acall(key, self._func, args, kwargs)
        if not self._sync_engine:
            raise TypeError(f"{type(self.engine.cache).__name__} is asynchronous: "
                            "cache an async def function with it")
        return self.engine.call(key, self._func, args, kwargs)
