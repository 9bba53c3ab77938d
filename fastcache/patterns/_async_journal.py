"""The write-behind journal's I/O, written once for sync and asyncio (see :mod:`fastcache.patterns.journal`)."""
from __future__ import annotations

from typing import Any, Optional, Union

import redis
import redis.asyncio

from ..serializers import Serializer
from ._journal_base import _CONSUMER, _GROUP, AsyncStreamLength, JournalBase

__all__ = ("AsyncRedisStreamJournal",)


class AsyncRedisStreamJournal(JournalBase, AsyncStreamLength):
    """The journal over a redis-py client or a URL (``redis.asyncio`` for the asyncio
    journal).  The stream and its consumer group are created when first needed
    (or by :meth:`open`)."""

    def __init__(self, client: Any = "redis://localhost:6379/0", name: Union[str, bytes] = "default", *,
                 serializer: Optional[Serializer] = None) -> None:
        if isinstance(client, str):
            client = redis.asyncio.Redis.from_url(client, socket_timeout=2.0, socket_connect_timeout=2.0)
        super().__init__(client, name, serializer)

    async def open(self) -> None:
        """Create the stream and the consumer group if needed."""
        try:
            await self.client.xgroup_create(self.stream, _GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def append(self, key: Any, value: Any) -> bytes:
        """XADD the write; its entry id.  If this raises, the write is not in the journal:
        should it land anyway, the next append (or :meth:`backlog`) deletes it first."""
        if self._unsure:
            await self._drop_failed_appends()
        try:
            entry_id = bytes(await self.client.xadd(self.stream, self._fields(key, value)))
        except BaseException:
            self._unsure = True
            raise
        self._last_id = entry_id
        self.appended += 1
        return entry_id

    async def _drop_failed_appends(self) -> None:
        """XDEL what follows the last entry this writer knows it appended (or replayed)."""
        start = b"(" + self._last_id if self._last_id is not None else b"-"
        strays = [entry_id for entry_id, _ in await self.client.xrange(self.stream, start, "+")]
        if strays:
            await self.client.xdel(self.stream, *strays)
            self.voided += len(strays)
        self._unsure = False

    async def claim(self) -> None:
        """Move every entry appended so far into the group's pending list."""
        try:
            await self.client.xreadgroup(_GROUP, _CONSUMER, {self.stream: ">"}, count=None)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.open()               # the stream was deleted under us (e.g. a restarted server)

    async def ack(self, ids: list[bytes]) -> None:
        """XACK and XDEL entries whose writes the store accepted."""
        if not ids:
            return
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, _GROUP, *ids)
            pipe.xdel(self.stream, *ids)
            await pipe.execute()
        self.acked += len(ids)

    async def backlog(self) -> list[tuple[bytes, Any, Any]]:
        """Every entry still in the stream (unwritten, or written but not acknowledged), oldest first."""
        await self.open()
        if self._unsure:
            await self._drop_failed_appends()
        entries = await self.client.xrange(self.stream, "-", "+")
        if entries:
            self._last_id = bytes(entries[-1][0])
        return self._decode(entries)

    async def length(self) -> int:
        """Entries in the stream (XLEN)."""
        return int(await self.client.xlen(self.stream))
