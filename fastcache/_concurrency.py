"""Waiting, in the two modes: ``async_sleep`` and ``AsyncWaitCondition`` for the
asyncio code, ``sync_sleep`` and ``WaitCondition`` for the code
``scripts/unasync.py`` generates from it."""
from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any, Callable, Coroutine, Optional

__all__ = ("async_sleep", "sync_sleep", "async_spawn", "sync_spawn", "WaitCondition", "AsyncWaitCondition",
           "Signal", "AsyncSignal")

_tasks: set["asyncio.Task[None]"] = set()        # spawned tasks, referenced until they end


async def async_sleep(seconds: float) -> None:
    """Let the loop run for ``seconds``."""
    await asyncio.sleep(seconds)


def sync_sleep(seconds: float) -> None:
    """Block the thread for ``seconds``."""
    time.sleep(seconds)


def async_spawn(fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``fn()`` in the background: a task on the running loop."""
    task: asyncio.Task[None] = asyncio.get_running_loop().create_task(fn())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def sync_spawn(fn: Callable[[], None]) -> None:
    """Run ``fn()`` in the background: a daemon thread."""
    threading.Thread(target=fn, daemon=True, name="fastcache-background").start()


class WaitCondition:
    """A condition variable for threads, with the asyncio twin's interface."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        """The condition's own lock, a C context manager: for short critical sections
        that neither wait nor notify (``with cond.lock:``)."""
        self._cond = threading.Condition(self.lock)

    def __enter__(self) -> "WaitCondition":
        self._cond.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._cond.release()

    def hold(self) -> "WaitCondition":
        """The lock, for reading shared state from a sync method."""
        return self

    def wait(self, timeout: Optional[float] = None) -> None:
        """Release the lock until notified or ``timeout`` seconds pass (None: no limit)."""
        self._cond.wait(timeout)

    def notify_all(self) -> None:
        self._cond.notify_all()


class AsyncWaitCondition:
    """An asyncio condition whose ``wait`` takes a timeout (and does not raise on it)."""

    def __init__(self) -> None:
        self._cond = asyncio.Condition()
        self.lock = threading.Lock()
        """For the sync twin's short critical sections: here the loop's tasks never run
        between two steps of a sync method, so it only costs an uncontended acquire."""

    async def __aenter__(self) -> "AsyncWaitCondition":
        await self._cond.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cond.release()

    def hold(self) -> contextlib.nullcontext[None]:
        """Nothing to lock: the loop's tasks never run between two steps of a sync method."""
        return contextlib.nullcontext()

    async def wait(self, timeout: Optional[float] = None) -> None:
        """Release the lock until notified or ``timeout`` seconds pass (None: no limit)."""
        if timeout is None:
            await self._cond.wait()
            return
        try:
            await asyncio.wait_for(self._cond.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    def notify_all(self) -> None:
        self._cond.notify_all()


class Signal:
    """A flag one side raises from a plain callback and the other waits for, with a
    timeout (threads: an event)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        """Raise the flag (from any thread)."""
        self._event.set()

    def wait(self, timeout: float) -> bool:
        """Until the flag is up or ``timeout`` seconds pass; whether it was up (it is lowered)."""
        raised = self._event.wait(timeout)
        self._event.clear()
        return raised


class AsyncSignal:
    """:class:`Signal` for asyncio: ``set`` from a callback on the loop, ``await wait``."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        """Raise the flag (from the loop's thread)."""
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        """Until the flag is up or ``timeout`` seconds pass; whether it was up (it is lowered)."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
            raised = True
        except asyncio.TimeoutError:
            raised = False
        self._event.clear()
        return raised
