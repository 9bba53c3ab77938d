"""The write-behind journal's I/O, written once for sync and asyncio (see :mod:`fastcache.patterns.journal`)."""
from __future__ import annotations

import time
from typing import Any, Optional, Union

import redis.asyncio
import redis.asyncio.retry
import redis.backoff

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
            # No client-side retries: a write that timed out is reported, not sent again
            # (a retried XADD may land twice; append() copes, but reports beat guesses).
            client = redis.asyncio.Redis.from_url(client, socket_timeout=2.0, socket_connect_timeout=2.0,
                                                  retry=redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 0))
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
        should it land anyway, the next append deletes it (or Redis refuses it, late)."""
        fields = self._fields(key, value)
        for attempt in range(2):
            entry_id = self._next_id(int(time.time() * 1000))
            voided = list(self._voided)
            try:
                async with self.client.pipeline(transaction=True) as pipe:
                    if voided:
                        pipe.xdel(self.stream, *voided)
                    pipe.xadd(self.stream, fields, id=entry_id)
                    await pipe.execute()
            except redis.ResponseError as exc:
                # Our id is taken: an earlier try of this very XADD landed (a client retry,
                # or bytes delivered late), or another writer went ahead.  Void the id (the
                # next MULTI deletes it, if it is ours) and go above the stream's newest.
                self._voided.append(entry_id)
                if "equal or smaller" not in str(exc) or attempt:
                    raise
                await self._catch_up()
                continue
            except BaseException:
                self._voided.append(entry_id)
                raise
            del self._voided[:len(voided)]
            self.voided += len(voided)
            self.appended += 1
            return entry_id
        raise AssertionError("unreachable")  # pragma: no cover

    async def _catch_up(self) -> None:
        """Learn the stream's newest id."""
        newest = await self.client.xrevrange(self.stream, "+", "-", count=1)
        if newest:
            self._saw(bytes(newest[0][0]))

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
        if self._voided:
            await self.client.xdel(self.stream, *self._voided)
            self.voided += len(self._voided)
            self._voided.clear()
        entries = await self.client.xrange(self.stream, "-", "+")
        if entries:
            self._saw(bytes(entries[-1][0]))
        return self._decode(entries)

    async def length(self) -> int:
        """Entries in the stream (XLEN)."""
        return int(await self.client.xlen(self.stream))
