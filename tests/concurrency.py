"""What the async-first tests need that differs between the modes: sleeping, waiting
for another party's effect, and running callers concurrently (tasks vs threads).

``scripts/unasync.py`` turns each ``async_x`` into ``sync_x``."""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Awaitable, Callable

from conftest import wait_for
from fastcache._concurrency import async_sleep as async_sleep  # the library's own pair
from fastcache._concurrency import sync_sleep as sync_sleep


async def async_wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll predicate (letting the loop run) until it holds or timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.005)
    return bool(predicate())


sync_wait_for = wait_for


async def async_gather(*calls: Callable[[], Awaitable[Any]]) -> list[Any]:
    """Run the calls concurrently (as tasks); their results in order."""
    return list(await asyncio.gather(*(c() for c in calls)))


def sync_gather(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls concurrently (one thread each); their results in order (errors re-raised)."""
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except BaseException as exc:        # re-raised in the caller below
            errors.append(exc)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


class AsyncGate:
    """A gate callers wait at until it is opened (asyncio)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()

    def open(self) -> None:
        self._event.set()

    def close(self) -> None:
        self._event.clear()


class Gate:
    """A gate callers wait at until it is opened (threads)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._event.set()

    def wait(self) -> None:
        self._event.wait()

    def open(self) -> None:
        self._event.set()

    def close(self) -> None:
        self._event.clear()
