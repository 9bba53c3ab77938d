"""What the sync and asyncio leases share: options, lease keys, the Lua scripts,
and the two renewers (a thread vs a task: the one place the modes differ)."""
from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Awaitable, Callable, Optional, Union

from ..redis._common import key_to_bytes

log = logging.getLogger("fastcache.patterns")

RENEW_SCRIPT = ("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end "
                "return 0")
RELEASE_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class LeaseConfig:
    """A lease's options and counters (no I/O)."""

    def __init__(self, client: Any, prefix: Union[str, bytes], ttl: float, poll_interval: float,
                 wait_timeout: float) -> None:
        for name, v in (("ttl", ttl), ("poll_interval", poll_interval), ("wait_timeout", wait_timeout)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {v!r}")
        self.client = client
        self.prefix = prefix.encode() if isinstance(prefix, str) else bytes(prefix)
        self.ttl = float(ttl)
        self.poll_interval = float(poll_interval)
        self.wait_timeout = float(wait_timeout)
        self.acquired = 0           # leases won by this object
        self.waited = 0             # loads answered by another process's lease holder

    def lease_key(self, key: Any) -> bytes:
        """The Redis key of key's lease."""
        return self.prefix + key_to_bytes(key)


def _renew_failed(key: Any, exc: BaseException) -> None:
    log.warning("could not renew the lease for %r (%s)", key, exc)


class LeaseRenewer:
    """Renews a held lease every ``interval`` seconds from a daemon thread until stopped."""

    def __init__(self, renew: Callable[[], bool], interval: float, key: Any,
                 errors: tuple[type[BaseException], ...]) -> None:
        self._renew, self._interval, self._key, self._errors = renew, interval, key, errors
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fastcache-lease-renew", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                if not self._renew():
                    log.warning("lease for %r was lost while loading", self._key)
                    return
            except self._errors as exc:
                _renew_failed(self._key, exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class AsyncLeaseRenewer:
    """Renews a held lease every ``interval`` seconds from a task until stopped."""

    def __init__(self, renew: Callable[[], Awaitable[bool]], interval: float, key: Any,
                 errors: tuple[type[BaseException], ...]) -> None:
        self._renew, self._interval, self._key, self._errors = renew, interval, key, errors
        self._task: Optional[asyncio.Task[None]] = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                if not await self._renew():
                    log.warning("lease for %r was lost while loading", self._key)
                    return
            except self._errors as exc:
                _renew_failed(self._key, exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
