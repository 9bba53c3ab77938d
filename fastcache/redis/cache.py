"""A cache in Redis: ``RedisCache`` (sync) and ``AsyncRedisCache`` (asyncio).

Both have the same methods; the async ones are coroutines.  Every key is
stored under ``prefix + key``; values go through a serializer (JSON by
default, see :mod:`fastcache.serializers`).  A value that does not decode,
or a key holding another Redis type, reads as a miss and logs a warning.
Connection failures and timeouts are raised (as redis-py's exceptions):
``TieredCache`` and ``ShardedRedisCache`` are the layers that turn them
into misses.

Multi-key calls cost one round trip: ``get_many`` is one ``MGET`` (on a
cluster, one ``MGET`` per hash slot, sent as one pipeline that redis-py
splits per node, so one round trip per node); ``set_many``/``delete_many``
are one pipeline.  (redis-py refuses ``pipe.mget`` in cluster mode because
it cannot know the keys share a slot; we group by slot first, so we send
the raw command.)
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional, Union

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster

from .._impl import key_slot
from ..serializers import Serializer
from ..tags import check_tag, check_tags
from ._common import (DEFAULT, TAG_ADD, TAG_INFIX, TAG_POP, AsyncGetOrLoad, GetOrLoad, Key, PayloadCodec,
                      check_ttl, glob_escape, key_to_bytes, log, pttl_to_seconds, reply_error, ttl_ms, unique)
from .invalidation import key_member, member_key

__all__ = ("RedisCache", "AsyncRedisCache", "DEFAULT")

_TIMEOUTS = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}


def _blocking(options: dict[str, Any]) -> dict[str, Any]:
    """Pool options: more callers than connections wait for one (up to ``timeout``)
    instead of failing with "Too many connections"."""
    out = dict(options)
    out.setdefault("max_connections", 100)
    out.setdefault("timeout", 20)
    return out


def describe(client: Any) -> str:
    """``host:port`` (or socket path, or "cluster") of a redis-py client, for logs."""
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", None)
    if kwargs is None:
        return f"cluster {type(client).__name__}"
    if "path" in kwargs:
        return f"unix://{kwargs['path']}"
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


def _is_wrongtype(exc: BaseException) -> bool:
    return isinstance(exc, redis.ResponseError) and str(exc).startswith("WRONGTYPE")


class _RedisCacheBase:
    """Construction, keys and payload handling shared by the sync and async caches."""

    _client: Any
    cluster: bool

    def __init__(self, client: Any, *, prefix: Union[str, bytes] = "", ttl: Optional[float] = None,
                 serializer: Optional[Serializer] = None) -> None:
        if isinstance(prefix, str):
            prefix = prefix.encode("utf-8")
        if not isinstance(prefix, bytes):
            raise TypeError(f"prefix must be str or bytes, not {type(prefix).__name__}")
        self.prefix: bytes = prefix
        self.default_ttl = check_ttl(ttl)
        self.codec = PayloadCodec(serializer, f"{type(self).__name__}({prefix!r})")
        self._client = client

    @property
    def client(self) -> Any:
        """The redis-py client in use."""
        return self._client

    def redis_key(self, key: Key) -> bytes:
        """The Redis key a cache key is stored under."""
        return self.prefix + key_to_bytes(key)

    def _ttl(self, ttl: Any) -> Optional[float]:
        return self.default_ttl if ttl is DEFAULT else check_ttl(ttl)

    def _slot_groups(self, keys: list[Key]) -> list[list[Key]]:
        """Keys grouped so each MGET/DEL touches one hash slot (cluster) or all (single)."""
        if not self.cluster:
            return [keys] if keys else []
        groups: dict[int, list[Key]] = {}
        for k in keys:
            groups.setdefault(key_slot(self.redis_key(k)), []).append(k)
        return list(groups.values())

    def _decode_many(self, groups: list[list[Key]], replies: list[Any]) -> dict[Key, Any]:
        found: dict[Key, Any] = {}
        for group, reply in zip(groups, replies):
            if isinstance(reply, Exception):
                raise reply
            for k, data in zip(group, reply):
                ok, value = self.codec.loads(k, data)
                if ok:
                    found[k] = value
        return found

    def _decode_with_ttl(self, key: Key, data: Any, pttl: Any) -> tuple[bool, Any, Optional[float]]:
        """A pipelined GET + PTTL reply as (found, value, remaining)."""
        if reply_error(key, data, self.codec.name):
            if not _is_wrongtype(data):
                raise data
            return False, None, None
        ok, value = self.codec.loads(key, data)
        return (True, value, pttl_to_seconds(pttl)) if ok else (False, None, None)

    def _decode_with_ttls(self, keys: list[Key], groups: list[list[Key]],
                          replies: list[Any]) -> dict[Key, tuple[Any, Optional[float]]]:
        """Replies of one MGET per group followed by one PTTL per key."""
        values = self._decode_many(groups, replies[:len(groups)])
        ttls = dict(zip(keys, replies[len(groups):]))
        return {k: (v, pttl_to_seconds(ttls[k]) if not isinstance(ttls[k], Exception) else None)
                for k, v in values.items()}

    def _set_args(self, key: Key, value: Any, ttl: Any) -> tuple[bytes, bytes, Optional[int]]:
        seconds = self._ttl(ttl)
        return self.redis_key(key), self.codec.dumps(value), (ttl_ms(seconds) if seconds else None)

    def tag_key(self, tag: str) -> bytes:
        """The Redis set holding the keys that carry tag."""
        return self.prefix + TAG_INFIX + check_tag(tag).encode("utf-8")

    def _tag_commands(self, key: Key, tags: tuple[str, ...], px: Optional[int]) -> list[tuple[Any, ...]]:
        member = key_member(key)
        return [("EVAL", TAG_ADD, 1, self.tag_key(t), member, px or 0) for t in tags]

    def _members_to_keys(self, tag: str, members: Any) -> list[Key]:
        keys = []
        for m in members or ():
            try:
                keys.append(member_key(m))
            except ValueError:
                log.warning("%s: ignoring a foreign member %r of tag %r", self.codec.name, m, tag)
        return keys

    def invalidation_clients(self, live: bool = False) -> list[Any]:
        """Clients to publish and subscribe invalidations on (for TieredCache)."""
        return [self._client]

    def _match(self) -> bytes:
        if not self.prefix:
            raise ValueError("clear() needs a prefix: without one it would delete every key in "
                             "the database, which is FLUSHDB's job, not a cache's")
        return glob_escape(self.prefix) + b"*"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({describe(self._client)!r}, prefix={self.prefix!r}, ttl={self.default_ttl!r})"


class RedisCache(_RedisCacheBase, GetOrLoad):
    """A key-value cache in Redis (or a Redis Cluster), through redis-py.

    ``RedisCache("redis://localhost:6379/0", prefix="app:", ttl=3600)``; the
    first argument is a URL (``redis://``, ``rediss://`` for TLS,
    ``unix://``, with ``user:password@`` for ACLs) or a ready
    ``redis.Redis`` / ``redis.cluster.RedisCluster``.  ``cluster=True``
    connects to a cluster from a URL.  ``ttl`` is the default lifetime in
    seconds (None: no expiry); ``serializer`` defaults to safe JSON.
    Extra keyword arguments go to redis-py (timeouts default to 1 s).
    """

    def __init__(self, client: Any = "redis://localhost:6379/0", *, prefix: Union[str, bytes] = "",
                 ttl: Optional[float] = None, serializer: Optional[Serializer] = None,
                 cluster: bool = False, **connection_kwargs: Any) -> None:
        owns = isinstance(client, str)
        if owns:
            options = {**_TIMEOUTS, **connection_kwargs}
            client = (redis.cluster.RedisCluster.from_url(client, **options) if cluster
                      else redis.Redis.from_pool(redis.BlockingConnectionPool.from_url(client, **_blocking(options))))
        elif connection_kwargs:
            raise TypeError("connection options only apply when connecting from a URL")
        elif not isinstance(client, (redis.Redis, redis.cluster.RedisCluster)):
            raise TypeError(f"expected a URL, redis.Redis or RedisCluster, not {type(client).__name__}")
        super().__init__(client, prefix=prefix, ttl=ttl, serializer=serializer)
        self.cluster = isinstance(client, redis.cluster.RedisCluster)
        self._owns_client = owns

    def get(self, key: Key, default: Any = None) -> Any:
        """The value for key, or default (also for an undecodable or wrong-type value)."""
        try:
            data = self._client.get(self.redis_key(key))
        except redis.ResponseError as exc:
            if not _is_wrongtype(exc):
                raise
            reply_error(key, exc, self.codec.name)
            return default
        ok, value = self.codec.loads(key, data)
        return value if ok else default

    def get_with_ttl(self, key: Key) -> tuple[bool, Any, Optional[float]]:
        """(found, value, remaining seconds or None), in one round trip."""
        rkey = self.redis_key(key)
        with self._client.pipeline(transaction=False) as pipe:
            pipe.get(rkey)
            pipe.pttl(rkey)
            data, pttl = pipe.execute(raise_on_error=False)
        return self._decode_with_ttl(key, data, pttl)

    def get_many(self, keys: Iterable[Key]) -> dict[Key, Any]:
        """``{key: value}`` for the keys present (one MGET; per slot on a cluster)."""
        ks = unique(keys)
        groups = self._slot_groups(ks)
        if not groups:
            return {}
        if not self.cluster:
            return self._decode_many(groups, [self._client.mget([self.redis_key(k) for k in ks])])
        with self._client.pipeline(transaction=False) as pipe:
            for group in groups:
                pipe.execute_command("MGET", *[self.redis_key(k) for k in group])
            replies = pipe.execute(raise_on_error=False)
        return self._decode_many(groups, replies)

    def get_many_with_ttl(self, keys: Iterable[Key]) -> dict[Key, tuple[Any, Optional[float]]]:
        """``{key: (value, remaining seconds or None)}`` for the keys present, one round trip."""
        ks = unique(keys)
        groups = self._slot_groups(ks)
        if not groups:
            return {}
        with self._client.pipeline(transaction=False) as pipe:
            for group in groups:
                pipe.execute_command("MGET", *[self.redis_key(k) for k in group])
            for k in ks:
                pipe.pttl(self.redis_key(k))
            replies = pipe.execute(raise_on_error=False)
        return self._decode_with_ttls(ks, groups, replies)

    def set(self, key: Key, value: Any, ttl: Any = DEFAULT, tags: Optional[Iterable[str]] = None) -> None:
        """Store value (``ttl`` seconds, None for no expiry, default: the cache's),
        adding key to each tag's set (one pipeline) for :meth:`invalidate_tag`."""
        rkey, data, px = self._set_args(key, value, ttl)
        checked = check_tags(tags)
        if not checked:
            self._client.set(rkey, data, px=px)
            return
        with self._client.pipeline(transaction=False) as pipe:
            pipe.set(rkey, data, px=px)
            for cmd in self._tag_commands(key, checked, px):
                pipe.execute_command(*cmd)
            for reply in pipe.execute(raise_on_error=False):
                if isinstance(reply, Exception):
                    raise reply

    def invalidate_tag(self, tag: str) -> list[Key]:
        """Delete every key stored with tag (and the tag's set); the keys it named."""
        members = self._client.execute_command("EVAL", TAG_POP, 1, self.tag_key(tag))
        keys = self._members_to_keys(tag, members)
        if keys:
            self.delete_many(keys)
        return keys

    def add(self, key: Key, value: Any, ttl: Any = DEFAULT) -> bool:
        """Store value only if key is absent (SET NX); True if stored."""
        rkey, data, px = self._set_args(key, value, ttl)
        return bool(self._client.set(rkey, data, px=px, nx=True))

    def set_many(self, mapping: Mapping[Key, Any], ttl: Any = DEFAULT) -> None:
        """Store every item, in one pipeline."""
        args = [self._set_args(k, v, ttl) for k, v in mapping.items()]
        if not args:
            return
        with self._client.pipeline(transaction=False) as pipe:
            for rkey, data, px in args:
                pipe.set(rkey, data, px=px)
            for reply in pipe.execute(raise_on_error=False):
                if isinstance(reply, Exception):
                    raise reply

    def delete(self, key: Key) -> bool:
        """Remove key; True if it was there."""
        return bool(self._client.delete(self.redis_key(key)))

    def delete_many(self, keys: Iterable[Key]) -> int:
        """Remove keys (one DEL per slot on a cluster, one pipeline); how many were there."""
        groups = self._slot_groups(unique(keys))
        if not groups:
            return 0
        with self._client.pipeline(transaction=False) as pipe:
            for group in groups:
                pipe.execute_command("DEL", *[self.redis_key(k) for k in group])
            replies = pipe.execute(raise_on_error=False)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return sum(int(r) for r in replies)

    def ttl(self, key: Key) -> Optional[float]:
        """Seconds key has left, None if it never expires; KeyError if absent."""
        pttl = int(self._client.pttl(self.redis_key(key)))
        if pttl == -2:
            raise KeyError(key)
        return pttl_to_seconds(pttl)

    def __contains__(self, key: Key) -> bool:
        return bool(self._client.exists(self.redis_key(key)))

    def clear(self) -> int:
        """Delete this cache's keys (SCAN over the prefix, never FLUSHDB); how many."""
        match = self._match()
        removed = 0
        batch: list[bytes] = []
        for rkey in self._client.scan_iter(match=match, count=1000):
            batch.append(rkey)
            if len(batch) >= 1000:
                removed += self._unlink(batch)
                batch = []
        if batch:
            removed += self._unlink(batch)
        return removed

    def _unlink(self, rkeys: list[bytes]) -> int:
        if not self.cluster:
            return int(self._client.unlink(*rkeys))
        by_slot: dict[int, list[bytes]] = {}
        for rk in rkeys:
            by_slot.setdefault(key_slot(rk), []).append(rk)
        with self._client.pipeline(transaction=False) as pipe:
            for group in by_slot.values():
                pipe.execute_command("UNLINK", *group)
            return sum(int(r) for r in pipe.execute())

    def ping(self) -> bool:
        """True if the server answers."""
        return bool(self._client.ping())

    def close(self) -> None:
        """Close the connections, if this cache opened them."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> "RedisCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRedisCache(_RedisCacheBase, AsyncGetOrLoad):
    """:class:`RedisCache` for asyncio (``redis.asyncio``): the same methods, awaited."""

    def __init__(self, client: Any = "redis://localhost:6379/0", *, prefix: Union[str, bytes] = "",
                 ttl: Optional[float] = None, serializer: Optional[Serializer] = None,
                 cluster: bool = False, **connection_kwargs: Any) -> None:
        owns = isinstance(client, str)
        if owns:
            options = {**_TIMEOUTS, **connection_kwargs}
            if cluster:
                client = redis.asyncio.cluster.RedisCluster.from_url(client, **options)
            else:
                # A burst of tasks (more than the pool's 100 connections) waits for a
                # free connection instead of failing with MaxConnectionsError.
                client = redis.asyncio.Redis.from_pool(
                    redis.asyncio.BlockingConnectionPool.from_url(client, **_blocking(options)))
        elif connection_kwargs:
            raise TypeError("connection options only apply when connecting from a URL")
        elif not isinstance(client, (redis.asyncio.Redis, redis.asyncio.cluster.RedisCluster)):
            raise TypeError(f"expected a URL, redis.asyncio.Redis or RedisCluster, not {type(client).__name__}")
        super().__init__(client, prefix=prefix, ttl=ttl, serializer=serializer)
        self.cluster = isinstance(client, redis.asyncio.cluster.RedisCluster)
        self._owns_client = owns

    async def get(self, key: Key, default: Any = None) -> Any:
        """The value for key, or default (also for an undecodable or wrong-type value)."""
        try:
            data = await self._client.get(self.redis_key(key))
        except redis.ResponseError as exc:
            if not _is_wrongtype(exc):
                raise
            reply_error(key, exc, self.codec.name)
            return default
        ok, value = self.codec.loads(key, data)
        return value if ok else default

    async def get_with_ttl(self, key: Key) -> tuple[bool, Any, Optional[float]]:
        """(found, value, remaining seconds or None), in one round trip."""
        rkey = self.redis_key(key)
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.get(rkey)
            pipe.pttl(rkey)
            data, pttl = await pipe.execute(raise_on_error=False)
        return self._decode_with_ttl(key, data, pttl)

    async def get_many(self, keys: Iterable[Key]) -> dict[Key, Any]:
        """``{key: value}`` for the keys present (one MGET; per slot on a cluster)."""
        ks = unique(keys)
        groups = self._slot_groups(ks)
        if not groups:
            return {}
        if not self.cluster:
            return self._decode_many(groups, [await self._client.mget([self.redis_key(k) for k in ks])])
        async with self._client.pipeline(transaction=False) as pipe:
            for group in groups:
                pipe.execute_command("MGET", *[self.redis_key(k) for k in group])
            replies = await pipe.execute(raise_on_error=False)
        return self._decode_many(groups, replies)

    async def get_many_with_ttl(self, keys: Iterable[Key]) -> dict[Key, tuple[Any, Optional[float]]]:
        """``{key: (value, remaining seconds or None)}`` for the keys present, one round trip."""
        ks = unique(keys)
        groups = self._slot_groups(ks)
        if not groups:
            return {}
        async with self._client.pipeline(transaction=False) as pipe:
            for group in groups:
                pipe.execute_command("MGET", *[self.redis_key(k) for k in group])
            for k in ks:
                pipe.pttl(self.redis_key(k))
            replies = await pipe.execute(raise_on_error=False)
        return self._decode_with_ttls(ks, groups, replies)

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
            for reply in await pipe.execute(raise_on_error=False):
                if isinstance(reply, Exception):
                    raise reply

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
        args = [self._set_args(k, v, ttl) for k, v in mapping.items()]
        if not args:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for rkey, data, px in args:
                pipe.set(rkey, data, px=px)
            for reply in await pipe.execute(raise_on_error=False):
                if isinstance(reply, Exception):
                    raise reply

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
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return sum(int(r) for r in replies)

    async def ttl(self, key: Key) -> Optional[float]:
        """Seconds key has left, None if it never expires; KeyError if absent."""
        pttl = int(await self._client.pttl(self.redis_key(key)))
        if pttl == -2:
            raise KeyError(key)
        return pttl_to_seconds(pttl)

    async def exists(self, key: Key) -> bool:
        """True if key is stored (``in`` cannot be awaited)."""
        return bool(await self._client.exists(self.redis_key(key)))

    async def clear(self) -> int:
        """Delete this cache's keys (SCAN over the prefix, never FLUSHDB); how many."""
        match = self._match()
        found = [rk async for rk in self._client.scan_iter(match=match, count=1000)]
        removed = 0
        for i in range(0, len(found), 1000):
            batch = found[i:i + 1000]
            if not self.cluster:
                removed += int(await self._client.unlink(*batch))
                continue
            by_slot: dict[int, list[bytes]] = {}
            for rk in batch:
                by_slot.setdefault(key_slot(rk), []).append(rk)
            async with self._client.pipeline(transaction=False) as pipe:
                for group in by_slot.values():
                    pipe.execute_command("UNLINK", *group)
                removed += sum(int(r) for r in await pipe.execute())
        return removed

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

