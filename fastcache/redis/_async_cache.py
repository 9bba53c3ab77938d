"""The Redis cache's I/O, written once for sync and asyncio (see :mod:`fastcache.redis.cache`)."""
from __future__ import annotations

from typing import Any, Awaitable, Iterable, Mapping, Optional, Union

import redis
import redis.asyncio
import redis.asyncio.cluster

from ..serializers import Serializer
from ..tags import check_tags
from ._base import TIMEOUTS, AsyncMembership, RedisCacheBase, blocking_pool_options, is_wrongtype
from ._async_get_or_load import AsyncGetOrLoad
from ._common import DEFAULT, TAG_POP, Key, pttl_remaining, pttl_to_seconds, reply_error, unique
from .batching import AsyncReadBatcher

__all__ = ("AsyncRedisCache",)

SCAN_BATCH = 1000


class AsyncRedisCache(RedisCacheBase, AsyncGetOrLoad, AsyncMembership):
    """A key-value cache in Redis (or a Redis Cluster), through redis-py.

    ``RedisCache("redis://localhost:6379/0", prefix="app:", ttl=3600)``; the
    first argument is a URL (``redis://``, ``rediss://`` for TLS,
    ``unix://``, with ``user:password@`` for ACLs) or a ready redis-py client
    (``redis.asyncio.Redis`` / ``redis.asyncio.cluster.RedisCluster``).  The
    asyncio cache has the same methods as the sync one, as coroutines.
    ``cluster=True`` connects to a cluster from a URL.  ``ttl`` is the default
    lifetime in seconds (None: no expiry); ``serializer`` defaults to safe
    JSON.  Extra keyword arguments go to redis-py (timeouts default to 1 s).

    ``auto_batch``: concurrent ``get`` calls share one ``MGET`` (see
    :mod:`fastcache.redis.batching`); on by default for the asyncio cache, opt-in for
    the sync one (across threads).  ``expiry_header``: store each entry's expiry
    before its payload, so a tiered cache learns it from the same ``GET`` (turn it
    off while processes of fastcache < 0.16 still read the namespace: they take such
    payloads for corrupt, a miss).
    """

    def __init__(self, client: Any = "redis://localhost:6379/0", *, prefix: Union[str, bytes] = "",
                 ttl: Optional[float] = None, serializer: Optional[Serializer] = None,
                 cluster: bool = False,
                 auto_batch: bool = True,  # sync: auto_batch: bool = False,
                 expiry_header: bool = True, **connection_kwargs: Any) -> None:
        owns = isinstance(client, str)
        if owns:
            options = {**TIMEOUTS, **connection_kwargs}
            if cluster:
                client = redis.asyncio.cluster.RedisCluster.from_url(client, **options)
            else:
                # A burst of callers (more than the pool's 100 connections) waits for a
                # free connection instead of failing with "Too many connections".
                client = redis.asyncio.Redis.from_pool(
                    redis.asyncio.BlockingConnectionPool.from_url(client, **blocking_pool_options(options)))
        elif connection_kwargs:
            raise TypeError("connection options only apply when connecting from a URL")
        elif not isinstance(client, (redis.asyncio.Redis, redis.asyncio.cluster.RedisCluster)):
            raise TypeError(f"expected a URL, redis.asyncio.Redis or RedisCluster, not {type(client).__name__}")
        super().__init__(client, prefix=prefix, ttl=ttl, serializer=serializer, expiry_header=expiry_header)
        self.cluster = isinstance(client, redis.asyncio.cluster.RedisCluster)
        self._owns_client = owns
        self._batcher = AsyncReadBatcher(self._fetch) if auto_batch else None

    @property
    def auto_batch(self) -> bool:
        """Whether concurrent reads are merged into one MGET."""
        return self._batcher is not None

    async def _fetch(self, rkeys: list[bytes]) -> list[Any]:
        """The raw replies for rkeys (bytes or None each, or the error that key's command
        met): one GET for one key, else one MGET (per hash slot on a cluster, one pipeline)."""
        if len(rkeys) == 1:
            try:
                return [await self._client.get(rkeys[0])]
            except redis.ResponseError as exc:
                return [exc]
        if not self.cluster:
            return list(await self._client.mget(rkeys))
        groups = self._raw_slot_groups(rkeys)
        async with self._client.pipeline(transaction=False) as pipe:
            for group in groups:
                pipe.execute_command("MGET", *group)
            replies = await pipe.execute(raise_on_error=False)
        return self._ungroup(rkeys, groups, replies)

    def _failed_read(self, key: Key, error: BaseException) -> Any:
        """A key's command failed: WRONGTYPE is a miss (None, logged), anything else is raised."""
        if not is_wrongtype(error):
            raise error
        reply_error(key, error, self.codec.name)
        return None

    def _read(self, rkey: bytes) -> Awaitable[Any]:
        """rkey's raw reply, through the batcher if on (for asyncio an awaitable, not a
        coroutine: the read adds no frame)."""
        return self._batcher.get(rkey) if self._batcher is not None else self._fetch_one(rkey)

    async def _fetch_one(self, rkey: bytes) -> Any:
        return (await self._fetch([rkey]))[0]

    async def get(self, key: Key, default: Any = None) -> Any:
        """The value for key, or default (also for an undecodable or wrong-type value)."""
        data = await self._read(self.redis_key(key))
        if isinstance(data, BaseException):
            data = self._failed_read(key, data)
        ok, value = self.codec.loads(key, data)
        return value if ok else default

    async def get_with_ttl(self, key: Key) -> tuple[bool, Any, Optional[float]]:
        """(found, value, remaining seconds or None): one GET (batched like ``get``), the
        lifetime read from the payload's expiry header; a PTTL only for a payload
        written without one."""
        rkey = self.redis_key(key)
        data = await self._read(rkey)
        if isinstance(data, BaseException):
            data = self._failed_read(key, data)
        found, value, remaining = self.codec.loads_with_ttl(key, data)
        if found and remaining is not None and remaining < 0:
            remaining = pttl_remaining(await self._client.pttl(rkey))
        return found, value, remaining

    async def _mget(self, groups: list[list[Key]]) -> list[Any]:
        """One MGET reply per group of keys (one MGET; per hash slot, one pipeline, on a cluster)."""
        if not self.cluster:
            return [await self._client.mget([self.redis_key(k) for k in groups[0]])]
        async with self._client.pipeline(transaction=False) as pipe:
            for group in groups:
                pipe.execute_command("MGET", *[self.redis_key(k) for k in group])
            return list(await pipe.execute(raise_on_error=False))

    async def get_many(self, keys: Iterable[Key]) -> dict[Key, Any]:
        """``{key: value}`` for the keys present (one MGET; per slot on a cluster)."""
        groups = self._slot_groups(unique(keys))
        if not groups:
            return {}
        return self._decode_many(groups, await self._mget(groups))

    async def get_many_with_ttl(self, keys: Iterable[Key]) -> dict[Key, tuple[Any, Optional[float]]]:
        """``{key: (value, remaining seconds or None)}`` for the keys present: one MGET
        (per slot on a cluster); PTTLs only for payloads written without the expiry header."""
        groups = self._slot_groups(unique(keys))
        if not groups:
            return {}
        found, unknown = self._decode_many_with_ttl(groups, await self._mget(groups))
        if unknown:
            await self._read_ttls(found, unknown)
        return found

    async def _read_ttls(self, found: dict[Key, tuple[Any, Optional[float]]], keys: list[Key]) -> None:
        """Fill in, by PTTL, the lifetimes of found payloads written without the header."""
        async with self._client.pipeline(transaction=False) as pipe:
            for k in keys:
                pipe.pttl(self.redis_key(k))
            pttls = await pipe.execute(raise_on_error=False)
        self._absorb_pttls(found, keys, pttls)

    async def set(self, key: Key, value: Any, ttl: Any = DEFAULT, tags: Optional[Iterable[str]] = None) -> None:
        """Store value (``ttl`` seconds, None for no expiry, default: the cache's),
        adding key to each tag's set (one pipeline) for :meth:`invalidate_tag`."""
        rkey, data, px = self._set_args(key, value, ttl)
        checked = check_tags(tags)
        if not checked:
            await self._client.set(rkey, data, px=px)
            return
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.set(rkey, data, px=px)
            for cmd in self._tag_commands(key, checked, px):
                pipe.execute_command(*cmd)
            raise_first_error(await pipe.execute(raise_on_error=False))

    async def invalidate_tag(self, tag: str) -> list[Key]:
        """Delete every key stored with tag (and the tag's set); the keys it named."""
        members = await self._client.execute_command("EVAL", TAG_POP, 1, self.tag_key(tag))
        keys = self._members_to_keys(tag, members)
        if keys:
            await self.delete_many(keys)
        return keys

    async def add(self, key: Key, value: Any, ttl: Any = DEFAULT) -> bool:
        """Store value only if key is absent (SET NX); True if stored."""
        rkey, data, px = self._set_args(key, value, ttl)
        return bool(await self._client.set(rkey, data, px=px, nx=True))

    async def set_many(self, mapping: Mapping[Key, Any], ttl: Any = DEFAULT) -> None:
        """Store every item, in one pipeline."""
        commands = self._set_commands(mapping, ttl)
        if not commands:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            raise_first_error(await pipe.execute(raise_on_error=False))

    async def delete(self, key: Key) -> bool:
        """Remove key; True if it was there."""
        return bool(await self._client.delete(self.redis_key(key)))

    async def delete_many(self, keys: Iterable[Key]) -> int:
        """Remove keys (one DEL per slot on a cluster, one pipeline); how many were there."""
        groups = self._slot_groups(unique(keys))
        if not groups:
            return 0
        async with self._client.pipeline(transaction=False) as pipe:
            for group in groups:
                pipe.execute_command("DEL", *[self.redis_key(k) for k in group])
            replies = await pipe.execute(raise_on_error=False)
        raise_first_error(replies)
        return sum(int(r) for r in replies)

    async def ttl(self, key: Key) -> Optional[float]:
        """Seconds key has left, None if it never expires; KeyError if absent."""
        pttl = int(await self._client.pttl(self.redis_key(key)))
        if pttl == -2:
            raise KeyError(key)
        return pttl_to_seconds(pttl)

    async def exists(self, key: Key) -> bool:
        """True if key is stored (one EXISTS)."""
        return bool(await self._client.exists(self.redis_key(key)))

    async def clear(self) -> int:
        """Delete this cache's keys (SCAN over the prefix, never FLUSHDB); how many.

        Keys are unlinked in batches as the scan finds them, so memory stays
        bounded whatever the size of the namespace."""
        match = self._match()
        removed = 0
        batch: list[bytes] = []
        async for rkey in self._client.scan_iter(match=match, count=SCAN_BATCH):
            batch.append(rkey)
            if len(batch) >= SCAN_BATCH:
                removed += await self._unlink(batch)
                batch = []
        if batch:
            removed += await self._unlink(batch)
        return removed

    async def _unlink(self, rkeys: list[bytes]) -> int:
        if not self.cluster:
            return int(await self._client.unlink(*rkeys))
        async with self._client.pipeline(transaction=False) as pipe:
            for group in self._raw_slot_groups(rkeys):
                pipe.execute_command("UNLINK", *group)
            return sum(int(r) for r in await pipe.execute())

    async def ping(self) -> bool:
        """True if the server answers."""
        return bool(await self._client.ping())

    async def close(self) -> None:
        """Close the connections, if this cache opened them."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> "AsyncRedisCache":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def raise_first_error(replies: Iterable[Any]) -> None:
    """Raise the first error among a pipeline's replies (run with raise_on_error=False)."""
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
