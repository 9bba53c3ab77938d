"""The write-behind journal (a Redis Stream) against a real server, in both modes.

Written once, for asyncio; ``tests/_sync/test_journal.py`` is generated from it.
"""
from __future__ import annotations

import logging

import pytest
import redis

from fastcache.patterns.journal import AsyncRedisStreamJournal


async def test_append_claim_ack_and_backlog(redis_url):
    journal = AsyncRedisStreamJournal(redis_url, "j-basic")
    raw = redis.Redis.from_url(redis_url)
    ids = [await journal.append(f"k{i}", {"v": i}) for i in range(5)]
    assert await journal.length() == 5 and journal.appended == 5
    assert [(k, v) for _, k, v in await journal.backlog()] == [(f"k{i}", {"v": i}) for i in range(5)]
    await journal.claim()
    pending = raw.xpending(journal.stream, b"fastcache-write-behind")
    assert pending["pending"] == 5                      # claimed into the group, not yet acknowledged
    await journal.ack(ids[:3])
    await journal.ack([])
    assert await journal.length() == 2 and journal.acked == 3
    assert [k for _, k, _ in await journal.backlog()] == ["k3", "k4"]
    await journal.client.aclose()


async def test_claim_recreates_a_deleted_stream_and_bad_entries_are_skipped(redis_url, caplog):
    journal = AsyncRedisStreamJournal(redis_url, "j-bad")
    await journal.open()
    await journal.open()                                # idempotent (BUSYGROUP)
    raw = redis.Redis.from_url(redis_url)
    raw.delete(journal.stream)
    await journal.claim()                               # NOGROUP: the group is made again
    await journal.append("good", 1)
    raw.xadd(journal.stream, {b"k": b"s:x", b"v": b"\x80 not json"})
    with caplog.at_level(logging.ERROR, logger="fastcache.patterns"):
        assert [(k, v) for _, k, v in await journal.backlog()] == [("good", 1)]
    assert any("undecodable" in r.getMessage() for r in caplog.records)
    await journal.client.aclose()


async def test_a_journal_needs_a_name(redis_url):
    with pytest.raises(ValueError, match="name"):
        AsyncRedisStreamJournal(redis_url, "")
