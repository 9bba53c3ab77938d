"""Single-flight: one call per key in flight, everyone else waits for its result.

Follows Go's ``singleflight`` contract: duplicates block and receive the
leader's value or exception; once the call completes the key is
forgotten, so the next miss calls again.  A call that re-enters
``do`` for the same key from the same thread runs directly instead of
deadlocking on itself; a call for another key (a loader that loads
something else through the same cache) is simply a second flight.
Waiters may give up after ``timeout`` seconds with :class:`LoadTimeout`;
the leader carries on and its result still reaches the cache.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable, Callable, Hashable, Optional

__all__ = ("SingleFlight", "AsyncSingleFlight", "LoadTimeout")


class LoadTimeout(TimeoutError):
    """A caller waited longer than its ``timeout`` for another caller's load."""


class _Call:
    __slots__ = ("done", "value", "error", "owner", "waiters")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: Optional[BaseException] = None
        self.owner = threading.get_ident()
        self.waiters = 0


class SingleFlight:
    """Deduplicate concurrent calls by key, across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[Hashable, _Call] = {}

    def do(self, key: Hashable, fn: Callable[[], Any], timeout: Optional[float] = None) -> tuple[Any, bool]:
        """Run ``fn`` once for concurrent callers with ``key``: (value, shared).

        ``shared`` is True for a caller that received another caller's
        result (and for a leader that had waiters).  A waiter raises
        :class:`LoadTimeout` after ``timeout`` seconds.
        """
        with self._lock:
            call = self._calls.get(key)
            if call is None:
                call = self._calls[key] = _Call()
                leader = True
            elif call.owner == threading.get_ident():
                leader = None                   # re-entrant: run it ourselves
            else:
                call.waiters += 1
                leader = False
        if leader is None:
            return fn(), False
        if not leader:
            if not call.done.wait(timeout):
                raise LoadTimeout(f"gave up after {timeout} s waiting for the load of {key!r}")
            if call.error is not None:
                raise call.error
            return call.value, True
        try:
            call.value = fn()
        except BaseException as exc:
            call.error = exc
            raise
        finally:
            with self._lock:
                self._calls.pop(key, None)
            call.done.set()
        return call.value, call.waiters > 0

    def call(self, key: Hashable, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """``do(key, lambda: fn(*args))[0]`` without the closure (for compiled callers)."""
        return self.do(key, lambda: fn(*args))[0]

    def in_flight(self) -> int:
        """How many keys have a call running."""
        return len(self._calls)


class AsyncSingleFlight:
    """Deduplicate concurrent calls by key, across tasks of one event loop."""

    def __init__(self) -> None:
        self._calls: dict[Hashable, asyncio.Future[Any]] = {}

    async def do(self, key: Hashable, fn: Callable[[], Awaitable[Any]],
                 timeout: Optional[float] = None) -> tuple[Any, bool]:
        """Await ``fn()`` once for concurrent callers with ``key``: (value, shared)."""
        fut = self._calls.get(key)
        if fut is not None:
            try:
                return await asyncio.wait_for(asyncio.shield(fut), timeout), True
            except asyncio.TimeoutError:
                raise LoadTimeout(f"gave up after {timeout} s waiting for the load of {key!r}") from None
        fut = asyncio.get_running_loop().create_future()
        self._calls[key] = fut
        try:
            value = await fn()
        except BaseException as exc:
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()             # mark retrieved: waiters get it, nobody else must
            raise
        else:
            fut.set_result(value)
            return value, False
        finally:
            self._calls.pop(key, None)

    def in_flight(self) -> int:
        """How many keys have a call running."""
        return len(self._calls)
