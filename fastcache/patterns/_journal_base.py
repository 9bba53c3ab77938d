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
        # A failed XADD may still land (a timeout is not a "no"), late, and its entry would
        # be replayed over newer, acknowledged writes.  So the writer (the stream's only
        # appender) picks each entry's id itself, increasing: the next append deletes the
        # failed ones' ids in the same MULTI as it adds its own, and Redis refuses a late
        # XADD whose id is not above the stream's newest.
        self._last_ms = 0
        self._last_seq = -1
        self._voided: list[bytes] = []      # ids of failed appends, deleted by the next append
        self.voided = 0                     # how many such ids were deleted

    def _next_id(self, now_ms: int) -> bytes:
        """An entry id above every id this writer used or saw (ms-seq, as Redis's own)."""
        if now_ms > self._last_ms:
            self._last_ms, self._last_seq = now_ms, 0
        else:
            self._last_seq += 1
        return b"%d-%d" % (self._last_ms, self._last_seq)

    def _saw(self, entry_id: bytes) -> None:
        """The stream holds entry_id: later ids must be above it."""
        ms, _, seq = entry_id.partition(b"-")
        if (int(ms), int(seq or 0)) > (self._last_ms, self._last_seq):
            self._last_ms, self._last_seq = int(ms), int(seq or 0)

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
