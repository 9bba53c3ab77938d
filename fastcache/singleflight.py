"""Single-flight: one call per key in flight, everyone else waits for its result.

Follows Go's ``singleflight`` contract: duplicates block and receive the
leader's value or exception; once the call completes the key is
forgotten, so the next miss calls again.  A call that re-enters
``do`` for the same key from the same thread runs directly instead of
deadlocking on itself; a call for another key (a loader that loads
something else through the same cache) is simply a second flight.
Waiters may give up after ``timeout`` seconds with :class:`LoadTimeout`;
the leader carries on and its result still reaches the cache.

A leader that is itself cancelled (asyncio: its task cancelled, ``wait_for``
timing out around it) has no outcome to share: its followers are not handed
its ``CancelledError`` but start the call again, one of them leading
(:class:`LeaderCancelled` tells a follower driving the three-step protocol
to do so).
"""
from __future__ import annotations

import asyncio
import threading
from _thread import allocate_lock as _allocate_lock
from _thread import get_ident as _get_ident
from typing import Any, Awaitable, Callable, Hashable, Optional

__all__ = ("SingleFlight", "AsyncSingleFlight", "LoadTimeout", "LeaderCancelled", "FOLLOW", "LEAD", "REENTER")


class LoadTimeout(TimeoutError):
    """A caller waited longer than its ``timeout`` for another caller's load."""


class LeaderCancelled(Exception):
    """Raised to a follower by ``wait`` when the leader was cancelled before it finished:
    nothing to share, so the follower starts the call again (``begin``).  ``do`` does it."""


class _Call:
    """One call in flight.  ``done`` is a lock the leader holds until it settles.

    Built without a Python ``__init__`` (``begin`` fills the slots), so that
    starting a call adds no frame under a recursive memoized function.
    """

    __slots__ = ("done", "value", "error", "owner", "waiters")
    done: Any
    value: Any
    error: Optional[BaseException]
    owner: int
    waiters: int


#: What :meth:`SingleFlight.begin` makes of its caller.
FOLLOW = 0      # another thread leads this key: wait() for its result
LEAD = 1        # this caller runs the call, then settle()s it
REENTER = 2     # this thread already leads this key: run the call directly, settle nothing


class SingleFlight:
    """Deduplicate concurrent calls by key, across threads.

    ``do(key, fn)`` is the whole protocol.  Callers that must not add Python
    frames between themselves and the call (a memoized recursive function
    reaches the same depth as without single-flight) drive it in three steps:
    ``call, role = begin(key)``; a ``LEAD`` caller runs the call itself and
    passes its outcome to ``settle``; a ``FOLLOW`` caller returns ``wait(call)``;
    a ``REENTER`` caller runs the call directly.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[Hashable, _Call] = {}

    def begin(self, key: Hashable) -> tuple[_Call, int]:
        """Join or start the call for ``key``: (call, FOLLOW | LEAD | REENTER)."""
        with self._lock:
            call = self._calls.get(key)
            if call is None:
                call = self._calls[key] = _Call()
                call.done = done = _allocate_lock()
                done.acquire()
                call.value = call.error = None
                call.owner = _get_ident()
                call.waiters = 0
                return call, LEAD
            if call.owner == _get_ident():
                return call, REENTER
            call.waiters += 1
            return call, FOLLOW

    def settle(self, key: Hashable, call: _Call, value: Any, error: Optional[BaseException]) -> None:
        """A leader's outcome: forget ``key`` and wake the followers with it."""
        call.value = value
        call.error = error
        with self._lock:
            if self._calls.get(key) is call:
                del self._calls[key]
        call.done.release()

    @staticmethod
    def wait(call: _Call, timeout: Optional[float] = None, key: Hashable = None) -> Any:
        """A follower's result: the leader's value, or its exception raised here."""
        if not call.done.acquire(True, -1 if timeout is None else max(timeout, 0.0)):
            raise LoadTimeout(f"gave up after {timeout} s waiting for the load of {key!r}")
        call.done.release()             # the next follower passes too
        if call.error is not None:
            raise call.error
        return call.value

    def do(self, key: Hashable, fn: Callable[[], Any], timeout: Optional[float] = None) -> tuple[Any, bool]:
        """Run ``fn`` once for concurrent callers with ``key``: (value, shared).

        ``shared`` is True for a caller that received another caller's
        result (and for a leader that had waiters).  A waiter raises
        :class:`LoadTimeout` after ``timeout`` seconds.
        """
        call, role = self.begin(key)
        if role == REENTER:
            return fn(), False
        if role == FOLLOW:
            return self.wait(call, timeout, key), True
        try:
            value = fn()
        except BaseException as exc:
            self.settle(key, call, None, exc)
            raise
        self.settle(key, call, value, None)
        return value, call.waiters > 0

    def in_flight(self) -> int:
        """How many keys have a call running."""
        return len(self._calls)


class AsyncSingleFlight:
    """Deduplicate concurrent calls by key, across tasks of one event loop.

    The same protocol as :class:`SingleFlight`: ``do(key, fn)``, or
    ``begin``/``settle``/``wait`` for callers that must add no coroutine frame;
    a task that re-enters for a key it leads runs the call directly (``REENTER``)
    instead of awaiting itself.
    """

    def __init__(self) -> None:
        self._calls: dict[Hashable, asyncio.Future[Any]] = {}
        self._owners: dict[Hashable, Optional[asyncio.Task[Any]]] = {}

    def begin(self, key: Hashable) -> tuple[asyncio.Future[Any], int]:
        """Join or start the call for ``key``: (future, FOLLOW | LEAD | REENTER)."""
        fut = self._calls.get(key)
        task = asyncio.current_task()
        if fut is not None:
            return fut, (REENTER if task is not None and self._owners.get(key) is task else FOLLOW)
        fut = self._calls[key] = asyncio.get_running_loop().create_future()
        self._owners[key] = task
        return fut, LEAD

    def settle(self, key: Hashable, fut: asyncio.Future[Any], value: Any, error: Optional[BaseException]) -> None:
        """A leader's outcome: forget ``key`` and resolve the followers' future."""
        if self._calls.get(key) is fut:
            del self._calls[key]
            del self._owners[key]
        if fut.done():
            return
        if error is None:
            fut.set_result(value)
        else:
            if isinstance(error, asyncio.CancelledError):
                error = LeaderCancelled()   # the leader's own cancellation is not the followers'
            fut.set_exception(error)
            fut.exception()             # mark retrieved: followers get it, nobody else must

    @staticmethod
    async def wait(fut: asyncio.Future[Any], timeout: Optional[float] = None, key: Hashable = None) -> Any:
        """A follower's result: the leader's value, or its exception raised here
        (:class:`LeaderCancelled` if the leader was cancelled: begin again)."""
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            raise LoadTimeout(f"gave up after {timeout} s waiting for the load of {key!r}") from None

    async def do(self, key: Hashable, fn: Callable[[], Awaitable[Any]],
                 timeout: Optional[float] = None) -> tuple[Any, bool]:
        """Await ``fn()`` once for concurrent callers with ``key``: (value, shared)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            fut, role = self.begin(key)
            if role != FOLLOW:
                break
            try:
                return await self.wait(fut, None if deadline is None else deadline - loop.time(), key), True
            except LeaderCancelled:
                continue                # the leader was cancelled: lead or follow anew
        if role == REENTER:
            return await fn(), False
        try:
            value = await fn()
        except BaseException as exc:
            self.settle(key, fut, None, exc)
            raise
        self.settle(key, fut, value, None)
        return value, False

    def in_flight(self) -> int:
        """How many keys have a call running."""
        return len(self._calls)
