"""What the sync and asyncio write-behind journals share without I/O: naming,
entry encoding and decoding."""
from __future__ import annotations

import logging
from typing import Any, Optional, Union

from ..redis.invalidation import key_member, member_key
from ..serializers import JSONSerializer, Serializer

log = logging.getLogger("fastcache.patterns")

_GROUP = b"fastcache-write-behind"
_CONSUMER = b"writer"


class JournalBase:
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
        # A failed XADD may still have landed (a timeout is not a "no"), and its entry would
        # be replayed later over newer, acknowledged writes.  The writer is the stream's only
        # appender, so whatever follows the last entry it knows of is such an entry: the next
        # append deletes it first.
        self._last_id: Optional[bytes] = None
        self._unsure = False
        self.voided = 0                     # entries of failed appends found and deleted

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


class StreamLength:
    """``len(journal)`` on the sync journal (one XLEN)."""

    def length(self) -> int:  # pragma: no cover - provided by the journal
        raise NotImplementedError

    def __len__(self) -> int:
        return self.length()


class AsyncStreamLength:
    """The asyncio journal has no ``len()`` (it cannot be awaited): ``await journal.length()``."""
