"""The invalidation bus's I/O, written once for sync and asyncio (see :mod:`fastcache.patterns.invalidation_bus`)."""
from __future__ import annotations

from typing import Any, Iterable, Optional, Union

import redis
import redis.asyncio

from ..redis.invalidation import AsyncInvalidationListener
from ._bus_base import AsyncPurgeTasks, BusBase

__all__ = ("AsyncInvalidationBus",)


class AsyncInvalidationBus(AsyncPurgeTasks, BusBase):
    """Publish and apply invalidation events over one Redis pub/sub channel.

    The sync bus listens from a thread started at once; the asyncio bus from a
    task of the running loop, started by :meth:`start` (or ``async with``, or
    the first :meth:`wait_ready`), and it runs asyncio caches' tag purges
    (``AsyncTieredCache``) as tasks of that loop.
    """

    def __init__(self, client: Any = "redis://localhost:6379/0", *,
                 channel: Union[str, bytes] = "fastcache:events") -> None:
        self._owns_client = isinstance(client, str)
        if isinstance(client, str):
            client = redis.asyncio.Redis.from_url(client, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._init_bus(client, channel)
        self._listener = None
        self._init_purges()

    async def start(self) -> None:
        """Start listening (idempotent)."""
        if self._listener is None:
            self._listener = AsyncInvalidationListener([self.client], self.channel, self.origin,
                                                       self._on_remote, self._on_reset)

    async def publish(self, keys: Optional[Iterable[Any]] = None, tags: Optional[Iterable[str]] = None,
                      reason: str = "event") -> int:
        """Apply the event here and send it to every other subscriber; how many
        processes received it (Redis' count of subscribers, this one included)."""
        event, payload = self._event(keys, tags, reason, self.origin)
        self._apply(event)
        await self.settle()
        self.published += 1
        return int(await self.client.publish(self.channel, payload))

    async def wait_ready(self, timeout: float = 5.0) -> bool:
        """Wait until subscribed (True) or timeout."""
        await self.start()
        assert self._listener is not None
        return bool(await self._listener.wait_connected(timeout))

    async def close(self) -> None:
        """Stop listening (and close the client, if the bus opened it)."""
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        await self.settle()
        if self._owns_client:
            await self.client.aclose()

    async def __aenter__(self) -> "AsyncInvalidationBus":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
