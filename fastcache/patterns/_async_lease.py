"""The lease's I/O, written once for sync and asyncio (see :mod:`fastcache.patterns.lease`)."""
from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Awaitable, Callable, Optional, Union

import redis
import redis.asyncio

from .._concurrency import async_sleep
from ..redis._common import ttl_ms
from ..singleflight import LoadTimeout
from ._lease_base import RELEASE_SCRIPT, RENEW_SCRIPT, AsyncLeaseRenewer, LeaseConfig

__all__ = ("AsyncRedisLease",)

log = logging.getLogger("fastcache.patterns")


class AsyncRedisLease(LeaseConfig):
    """A lease per key in Redis, over a redis-py client or a URL (``redis.asyncio``
    for the asyncio lease, whose methods are coroutines); see the module docstring."""

    def __init__(self, client: Any = "redis://localhost:6379/0", *, prefix: Union[str, bytes] = "fastcache:lease:",
                 ttl: float = 10.0, poll_interval: float = 0.02, wait_timeout: float = 30.0) -> None:
        if isinstance(client, str):
            client = redis.asyncio.Redis.from_url(client, socket_timeout=1.0, socket_connect_timeout=1.0)
        super().__init__(client, prefix, ttl, poll_interval, wait_timeout)
        self._errors = (redis.RedisError, OSError)
        self._renew = client.register_script(RENEW_SCRIPT)
        self._release = client.register_script(RELEASE_SCRIPT)

    async def acquire(self, key: Any) -> Optional[str]:
        """A token if this caller now holds key's lease, else None."""
        token = uuid.uuid4().hex
        if await self.client.set(self.lease_key(key), token, nx=True, px=ttl_ms(self.ttl)):
            return token
        return None

    async def renew(self, key: Any, token: str) -> bool:
        """Extend the lease if token still holds it."""
        return bool(await self._renew(keys=[self.lease_key(key)], args=[token, ttl_ms(self.ttl)]))

    async def release(self, key: Any, token: str) -> bool:
        """Give the lease up if token still holds it."""
        return bool(await self._release(keys=[self.lease_key(key)], args=[token]))

    async def load_once(self, key: Any, load: Callable[[], Awaitable[Any]],
                        check: Callable[[], Awaitable[tuple[bool, Any]]]) -> Any:
        """``load()`` in exactly one process at a time; the others get ``check()``'s value."""
        deadline = time.monotonic() + self.wait_timeout
        while True:
            try:
                token = await self.acquire(key)
            except self._errors as exc:
                log.warning("lease for %r unavailable (%s: %s); loading without it", key, type(exc).__name__, exc)
                return await load()
            if token is not None:
                self.acquired += 1
                return await self._load_holding(key, token, load, check)
            found, value = await check()
            if found:
                self.waited += 1
                return value
            if time.monotonic() >= deadline:
                raise LoadTimeout(f"gave up after {self.wait_timeout} s waiting for another process to load {key!r}")
            await async_sleep(self.poll_interval)

    async def _load_holding(self, key: Any, token: str, load: Callable[[], Awaitable[Any]],
                            check: Callable[[], Awaitable[tuple[bool, Any]]]) -> Any:
        renewer = AsyncLeaseRenewer(lambda: self.renew(key, token), self.ttl / 3, key, self._errors)
        await renewer.start()
        try:
            found, value = await check()        # stored by the previous holder just before we won
            return value if found else await load()
        finally:
            await renewer.stop()
            try:
                await self.release(key, token)
            except self._errors as exc:
                log.warning("could not release the lease for %r (%s); it expires in %.1f s", key, exc, self.ttl)
