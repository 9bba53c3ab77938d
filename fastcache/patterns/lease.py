"""Distributed single-flight: a Redis lease so N processes load a key once.

The process that wins ``SET <prefix><key> <token> NX PX <ttl>`` loads, stores the
value in the shared cache and deletes the lease (only if it still holds that
token, checked atomically in a Lua script).  While it loads, a thread (a task,
for asyncio) renews the lease every third of its TTL, so a slow load keeps it
and a crashed loader loses it within one TTL.  The others poll the shared
cache until the value appears, or the lease is gone (then they try to take
it), or ``wait_timeout`` passes (:class:`~fastcache.singleflight.LoadTimeout`).
If Redis cannot be reached for the lease itself, the load goes ahead
locally: the lease saves work, it is never needed for correctness.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from typing import Any, Awaitable, Callable, Optional, Union

from ..redis._common import key_to_bytes, ttl_ms
from ..singleflight import LoadTimeout

__all__ = ("RedisLease", "AsyncRedisLease")

log = logging.getLogger("fastcache.patterns")

_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class _LeaseConfig:
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


class RedisLease(_LeaseConfig):
    """A lease per key in Redis (sync client or URL); see the module docstring."""

    def __init__(self, client: Any = "redis://localhost:6379/0", *, prefix: Union[str, bytes] = "fastcache:lease:",
                 ttl: float = 10.0, poll_interval: float = 0.02, wait_timeout: float = 30.0) -> None:
        import redis
        if isinstance(client, str):
            client = redis.Redis.from_url(client, socket_timeout=1.0, socket_connect_timeout=1.0)
        super().__init__(client, prefix, ttl, poll_interval, wait_timeout)
        self._errors = (redis.RedisError, OSError)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def acquire(self, key: Any) -> Optional[str]:
        """A token if this caller now holds key's lease, else None."""
        token = uuid.uuid4().hex
        if self.client.set(self.lease_key(key), token, nx=True, px=ttl_ms(self.ttl)):
            return token
        return None

    def renew(self, key: Any, token: str) -> bool:
        """Extend the lease if token still holds it."""
        return bool(self._renew(keys=[self.lease_key(key)], args=[token, ttl_ms(self.ttl)]))

    def release(self, key: Any, token: str) -> bool:
        """Give the lease up if token still holds it."""
        return bool(self._release(keys=[self.lease_key(key)], args=[token]))

    def load_once(self, key: Any, load: Callable[[], Any], check: Callable[[], tuple[bool, Any]]) -> Any:
        """``load()`` in exactly one process at a time; the others get ``check()``'s value."""
        deadline = time.monotonic() + self.wait_timeout
        while True:
            try:
                token = self.acquire(key)
            except self._errors as exc:
                log.warning("lease for %r unavailable (%s: %s); loading without it", key, type(exc).__name__, exc)
                return load()
            if token is not None:
                self.acquired += 1
                return self._load_holding(key, token, load, check)
            found, value = check()
            if found:
                self.waited += 1
                return value
            if time.monotonic() >= deadline:
                raise LoadTimeout(f"gave up after {self.wait_timeout} s waiting for another process to load {key!r}")
            time.sleep(self.poll_interval)

    def _load_holding(self, key: Any, token: str, load: Callable[[], Any],
                      check: Callable[[], tuple[bool, Any]]) -> Any:
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.ttl / 3):
                try:
                    if not self.renew(key, token):
                        log.warning("lease for %r was lost while loading", key)
                        return
                except self._errors as exc:
                    log.warning("could not renew the lease for %r (%s)", key, exc)
        renewer = threading.Thread(target=renew, name="fastcache-lease-renew", daemon=True)
        renewer.start()
        try:
            found, value = check()              # stored by the previous holder just before we won
            return value if found else load()
        finally:
            stop.set()
            renewer.join()
            try:
                self.release(key, token)
            except self._errors as exc:
                log.warning("could not release the lease for %r (%s); it expires in %.1f s", key, exc, self.ttl)


class AsyncRedisLease(_LeaseConfig):
    """:class:`RedisLease` over ``redis.asyncio`` (client or URL), renewed by a task."""

    def __init__(self, client: Any = "redis://localhost:6379/0", *, prefix: Union[str, bytes] = "fastcache:lease:",
                 ttl: float = 10.0, poll_interval: float = 0.02, wait_timeout: float = 30.0) -> None:
        import redis
        import redis.asyncio
        if isinstance(client, str):
            client = redis.asyncio.Redis.from_url(client, socket_timeout=1.0, socket_connect_timeout=1.0)
        super().__init__(client, prefix, ttl, poll_interval, wait_timeout)
        self._errors = (redis.RedisError, OSError)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    async def acquire(self, key: Any) -> Optional[str]:
        """A token if this caller now holds key's lease, else None."""
        token = uuid.uuid4().hex
        if await self.client.set(self.lease_key(key), token, nx=True, px=ttl_ms(self.ttl)):
            return token
        return None

    async def release(self, key: Any, token: str) -> bool:
        """Give the lease up if token still holds it."""
        return bool(await self._release(keys=[self.lease_key(key)], args=[token]))

    async def aload_once(self, key: Any, load: Callable[[], Awaitable[Any]],
                         check: Callable[[], Awaitable[tuple[bool, Any]]]) -> Any:
        """``await load()`` in exactly one process at a time; the others get ``check()``'s value."""
        deadline = time.monotonic() + self.wait_timeout
        while True:
            try:
                token = await self.acquire(key)
            except self._errors as exc:
                log.warning("lease for %r unavailable (%s: %s); loading without it", key, type(exc).__name__, exc)
                return await load()
            if token is not None:
                self.acquired += 1
                renewer = asyncio.get_running_loop().create_task(self._renew_loop(key, token))
                try:
                    found, value = await check()
                    return value if found else await load()
                finally:
                    renewer.cancel()
                    try:
                        await self.release(key, token)
                    except self._errors as exc:
                        log.warning("could not release the lease for %r (%s)", key, exc)
            found, value = await check()
            if found:
                self.waited += 1
                return value
            if time.monotonic() >= deadline:
                raise LoadTimeout(f"gave up after {self.wait_timeout} s waiting for another process to load {key!r}")
            await asyncio.sleep(self.poll_interval)

    async def _renew_loop(self, key: Any, token: str) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                if not await self._renew(keys=[self.lease_key(key)], args=[token, ttl_ms(self.ttl)]):
                    log.warning("lease for %r was lost while loading", key)
                    return
            except self._errors as exc:
                log.warning("could not renew the lease for %r (%s)", key, exc)

    def load_once(self, key: Any, load: Callable[[], Any], check: Callable[[], tuple[bool, Any]]) -> Any:
        """Not available on the asyncio lease."""
        raise TypeError("AsyncRedisLease works with CacheAside.aget(); use RedisLease for sync code")
