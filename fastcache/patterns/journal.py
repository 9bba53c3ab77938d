"""A durable journal for write-behind: a Redis Stream per writer.

``set`` appends ``XADD <stream> * k <key> v <value>`` before it returns, so
an accepted write survives the process.  Before writing a batch to the
store the writer reads the new entries into its consumer group
(``XREADGROUP ... >``); after the store accepted the batch it acknowledges
them (``XACK``) and deletes them (``XDEL``), keeping the stream as long as
the backlog.  A writer killed with SIGKILL leaves its unwritten entries in
the stream; the next writer on the same journal replays them, oldest
first, before its own writes (values coalesce: the newest per key wins).
Delivery to the store is at least once: an entry written but not yet
acknowledged when the process died is written again.

One journal name belongs to one live writer at a time (a second writer on the
same stream would replay the first one's in-flight writes).  Keys are str,
bytes or int; values go through the serializer (tagged JSON by default).
"""
from __future__ import annotations

import logging
from typing import Any, Optional, Union

import redis
import redis.asyncio

from ..redis.invalidation import key_member, member_key
from ..serializers import JSONSerializer, Serializer

__all__ = ("RedisStreamJournal", "AsyncRedisStreamJournal")

log = logging.getLogger("fastcache.patterns")

_GROUP = b"fastcache-write-behind"
_CONSUMER = b"writer"


class _JournalBase:
    def __init__(self, client: Any, name: Union[str, bytes], serializer: Optional[Serializer]) -> None:
        if isinstance(name, str):
            name = name.encode("utf-8")
        if not isinstance(name, bytes) or not name:
            raise ValueError("a journal needs a non-empty name (one per writer)")
        self.client = client
        self.stream = b"fastcache:write-behind:" + name
        self.serializer = serializer if serializer is not None else JSONSerializer()
        self.appended = 0
        self.acked = 0

    def _fields(self, key: Any, value: Any) -> dict[bytes, bytes]:
        return {b"k": key_member(key), b"v": bytes(self.serializer.dumps(value))}

    def _decode(self, entries: Any) -> list[tuple[bytes, Any, Any]]:
        """(id, key, value) per entry; an undecodable entry is logged and skipped."""
        out = []
        for entry_id, fields in entries or ():
            try:
                out.append((entry_id, member_key(fields[b"k"]), self.serializer.loads(fields[b"v"])))
            except Exception as exc:
                log.error("write-behind journal %r: skipping undecodable entry %r (%s)", self.stream, entry_id, exc)
        return out


class RedisStreamJournal(_JournalBase):
    """The journal over a sync redis-py client (or URL)."""

    def __init__(self, client: Any = "redis://localhost:6379/0", name: Union[str, bytes] = "default", *,
                 serializer: Optional[Serializer] = None) -> None:
        if isinstance(client, str):
            client = redis.Redis.from_url(client, socket_timeout=2.0, socket_connect_timeout=2.0)
        super().__init__(client, name, serializer)
        self._ensure_group()

    def _ensure_group(self) -> None:
        try:
            self.client.xgroup_create(self.stream, _GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def append(self, key: Any, value: Any) -> bytes:
        """XADD the write; its entry id."""
        entry_id = self.client.xadd(self.stream, self._fields(key, value))
        self.appended += 1
        return bytes(entry_id)

    def claim(self) -> None:
        """Move every entry appended so far into the group's pending list."""
        try:
            self.client.xreadgroup(_GROUP, _CONSUMER, {self.stream: ">"}, count=None)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._ensure_group()            # the stream was deleted under us (e.g. a restarted server)

    def ack(self, ids: list[bytes]) -> None:
        """XACK and XDEL entries whose writes the store accepted."""
        if not ids:
            return
        with self.client.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, _GROUP, *ids)
            pipe.xdel(self.stream, *ids)
            pipe.execute()
        self.acked += len(ids)

    def backlog(self) -> list[tuple[bytes, Any, Any]]:
        """Every entry still in the stream (unwritten, or written but not acknowledged), oldest first."""
        self._ensure_group()
        return self._decode(self.client.xrange(self.stream, "-", "+"))

    def __len__(self) -> int:
        return int(self.client.xlen(self.stream))


class AsyncRedisStreamJournal(_JournalBase):
    """The journal over ``redis.asyncio`` (client or URL); ``await journal.open()`` first
    (``AsyncWriteBehind.start`` does it)."""

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
        """XADD the write; its entry id."""
        entry_id = await self.client.xadd(self.stream, self._fields(key, value))
        self.appended += 1
        return bytes(entry_id)

    async def claim(self) -> None:
        """Move every entry appended so far into the group's pending list."""
        try:
            await self.client.xreadgroup(_GROUP, _CONSUMER, {self.stream: ">"}, count=None)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.open()

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
        """Every entry still in the stream, oldest first."""
        await self.open()
        return self._decode(await self.client.xrange(self.stream, "-", "+"))
