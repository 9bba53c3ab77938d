"""The sharded Redis cache's I/O, written once for sync and asyncio (see :mod:`fastcache.redis.sharded`)."""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Iterable, Mapping, Optional

from ..errors import L2_ERRORS
from ._async_cache import AsyncRedisCache
from ._base import AsyncMembership
from ._async_get_or_load import AsyncGetOrLoad
from ._common import DEFAULT, Key
from ._sharded_base import _FAILURES, AsyncShardFanOut, NodeUnavailable, _Node, _ShardedBase

__all__ = ("AsyncShardedRedisCache",)


class AsyncShardedRedisCache(_ShardedBase, AsyncShardFanOut, AsyncGetOrLoad, AsyncMembership):
    """A cache spread over several Redis nodes by consistent hashing.

    ``nodes``: URLs or redis-py clients, or a mapping ``{name: url or
    client}`` (names are the ring labels; by default ``host:port``).
    ``weights`` optionally gives nodes more or less of the keyspace.  The
    other options are those of the single-node cache, applied to every node.
    Multi-key calls send one pipeline per node, all nodes at once: the sync cache
    writes every node's commands before reading any reply (no thread), the asyncio
    one awaits the nodes' pipelines together.
    """

    _cache_class = AsyncRedisCache

    async def remove_node(self, name: str) -> None:
        """Take a node out of the ring (its keys move to the others)."""
        await self._detach(name).cache.close()

    async def _call(self, node: _Node, fn: Callable[[Any], Awaitable[Any]]) -> Any:
        """fn(node cache), with node health bookkeeping; NodeUnavailable if down."""
        admission = node.admit(self._timer())
        if not admission:
            raise node.down_error()
        try:
            result = await fn(node.cache)
        except _FAILURES as exc:
            raise node.failure_error(exc, self._timer(), admission) from exc
        except BaseException:
            node.abandon(admission)
            raise
        node.succeeded()
        return result

    async def _fan_out(self, groups: Mapping[str, Any],
                       fn: Callable[[Any, Any], Awaitable[Any]]) -> dict[str, Any]:
        """fn per node, all nodes at once; {node: result or the exception}."""
        def call(name: str) -> Callable[[], Awaitable[Any]]:
            async def one() -> Any:
                try:
                    return await self._call(self._nodes[name], lambda c: fn(c, groups[name]))
                except L2_ERRORS as exc:
                    return exc
            return one
        return await self._fan_out_calls({name: call(name) for name in groups})

    # -- the cache API -----------------------------------------------------------

    async def get(self, key: Key, default: Any = None) -> Any:
        """The value, or default (also when its node is down)."""
        try:
            return await self._call(self._node(key), lambda c: c.get(key, default))
        except NodeUnavailable:
            return default

    async def get_with_ttl(self, key: Key) -> tuple[bool, Any, Optional[float]]:
        """(found, value, remaining seconds or None); a down node is a miss."""
        try:
            return await self._call(self._node(key), lambda c: c.get_with_ttl(key))  # type: ignore[no-any-return]
        except NodeUnavailable:
            return False, None, None

    async def _mget(self, keys: Iterable[Key]) -> list[tuple[Any, list[Key], list[Any]]]:
        """One MGET per node, all nodes at once: (node cache, its keys, its MGET reply)
        for each node that answered."""
        groups = self._split(keys)
        replies = await self._fan_out_commands(
            groups, lambda c, ks: [("MGET", *[c.redis_key(k) for k in ks])])
        return [(self._nodes[name].cache, groups[name], reply[0]) for name, reply in replies.items()
                if not isinstance(reply, BaseException) and not isinstance(reply[0], BaseException)]

    async def get_many(self, keys: Iterable[Key]) -> dict[Key, Any]:
        """``{key: value}`` for keys found; one MGET per node, nodes at once (a node that
        is down: its keys are missing)."""
        out: dict[Key, Any] = {}
        for cache, ks, reply in await self._mget(keys):
            out.update(cache._decode_many([ks], [reply]))
        return out

    async def get_many_with_ttl(self, keys: Iterable[Key]) -> dict[Key, tuple[Any, Optional[float]]]:
        """``{key: (value, remaining)}`` for keys found; one MGET per node, nodes at once."""
        out: dict[Key, Any] = {}
        for cache, ks, reply in await self._mget(keys):
            found, unknown = cache._decode_many_with_ttl([ks], [reply])
            if unknown:                 # payloads written without the expiry header
                try:
                    await cache._read_ttls(found, unknown)
                except L2_ERRORS:
                    continue
            out.update(found)
        return out

    async def set(self, key: Key, value: Any, ttl: Any = DEFAULT, tags: Optional[Iterable[str]] = None) -> None:
        """Store on the key's node (its tag sets live there too); NodeUnavailable if it is down."""
        await self._call(self._node(key), lambda c: c.set(key, value, ttl, tags))

    async def invalidate_tag(self, tag: str) -> list[Key]:
        """Purge tag on every node; the keys removed.  A node that cannot be
        reached raises NodeUnavailable after the others are purged."""
        results = await self._fan_out({n: None for n in self._nodes}, lambda c, _: c.invalidate_tag(tag))
        self._raise_first(results)
        return [k for r in results.values() for k in r]

    async def add(self, key: Key, value: Any, ttl: Any = DEFAULT) -> bool:
        """SET NX on the key's node."""
        return bool(await self._call(self._node(key), lambda c: c.add(key, value, ttl)))

    async def set_many(self, mapping: Mapping[Key, Any], ttl: Any = DEFAULT) -> None:
        """Store items, one pipeline per node; raises the first node failure after trying all."""
        groups: dict[str, dict[Key, Any]] = {}
        for k, v in mapping.items():
            groups.setdefault(self.node_for(k), {})[k] = v
        results = await self._fan_out_commands(groups, lambda c, items: c._set_commands(items, ttl))
        self._raise_first(results)

    async def delete(self, key: Key) -> bool:
        """Remove key from its node."""
        return bool(await self._call(self._node(key), lambda c: c.delete(key)))

    async def delete_many(self, keys: Iterable[Key]) -> int:
        """Remove keys, one pipeline per node; how many existed."""
        results = await self._fan_out_commands(self._split(keys),
                                               lambda c, ks: [("DEL", *[c.redis_key(k) for k in ks])])
        self._raise_first(results)
        return sum(int(r[0]) for r in results.values())

    async def ttl(self, key: Key) -> Optional[float]:
        """Seconds key has left (None: no expiry); KeyError if absent."""
        return await self._call(self._node(key), lambda c: c.ttl(key))  # type: ignore[no-any-return]

    async def exists(self, key: Key) -> bool:
        """True if key is stored on its node (False while the node is down)."""
        try:
            return bool(await self._call(self._node(key), lambda c: c.exists(key)))
        except NodeUnavailable:
            return False

    async def clear(self) -> int:
        """Clear this prefix on every node; how many keys were removed."""
        results = await self._fan_out({n: None for n in self._nodes}, lambda c, _: c.clear())
        self._raise_first(results)
        return sum(int(r) for r in results.values())

    async def close(self) -> None:
        """Close every node's connections (and the fan-out's worker threads, if any)."""
        for node in self._nodes.values():
            await node.cache.close()
        await self._close_fan_out()

    async def __aenter__(self) -> "AsyncShardedRedisCache":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
