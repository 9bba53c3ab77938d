"""What ``RedisCache`` and ``AsyncRedisCache`` share that does no I/O: construction
options, Redis keys, payload encoding, reply decoding and command arguments."""
from __future__ import annotations

from typing import Any, Mapping, Optional, Union

import redis

from .._impl import key_slot
from ..serializers import Serializer
from ..tags import check_tag
from ._common import DEFAULT, TAG_ADD, TAG_INFIX, Key, PayloadCodec, check_ttl, glob_escape, key_to_bytes, log, \
    pttl_remaining, reply_error, ttl_ms
from .invalidation import key_member, member_key

TIMEOUTS = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}


def blocking_pool_options(options: dict[str, Any]) -> dict[str, Any]:
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


def is_wrongtype(exc: BaseException) -> bool:
    return isinstance(exc, redis.ResponseError) and str(exc).startswith("WRONGTYPE")


class RedisCacheBase:
    """Construction, keys and payload handling shared by the sync and async caches."""

    _client: Any
    cluster: bool

    def __init__(self, client: Any, *, prefix: Union[str, bytes] = "", ttl: Optional[float] = None,
                 serializer: Optional[Serializer] = None, expiry_header: bool = True) -> None:
        if isinstance(prefix, str):
            prefix = prefix.encode("utf-8")
        if not isinstance(prefix, bytes):
            raise TypeError(f"prefix must be str or bytes, not {type(prefix).__name__}")
        self.prefix: bytes = prefix
        self.default_ttl = check_ttl(ttl)
        self.codec = PayloadCodec(serializer, f"{type(self).__name__}({prefix!r})", header=bool(expiry_header))
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

    def _raw_slot_groups(self, rkeys: list[bytes]) -> list[list[bytes]]:
        """Redis keys grouped by hash slot (for one MGET each on a cluster)."""
        groups: dict[int, list[bytes]] = {}
        for rk in rkeys:
            groups.setdefault(key_slot(rk), []).append(rk)
        return list(groups.values())

    @staticmethod
    def _ungroup(rkeys: list[bytes], groups: list[list[bytes]], replies: list[Any]) -> list[Any]:
        """Per-slot MGET replies back in rkeys' order; a failed group's error for each of its keys."""
        by_key: dict[bytes, Any] = {}
        for group, reply in zip(groups, replies):
            if isinstance(reply, BaseException):
                by_key.update(dict.fromkeys(group, reply))
            else:
                by_key.update(zip(group, reply))
        return [by_key[rk] for rk in rkeys]

    def _decode_many(self, groups: list[list[Key]], replies: list[Any]) -> dict[Key, Any]:
        """MGET replies per group as {key: value} for the keys found."""
        return {k: v for k, (v, _) in self._decode_many_with_ttl(groups, replies)[0].items()}

    def _decode_many_with_ttl(self, groups: list[list[Key]],
                              replies: list[Any]) -> tuple[dict[Key, tuple[Any, Optional[float]]], list[Key]]:
        """MGET replies per group as ({key: (value, remaining)}, keys whose payload has no
        expiry header: their remaining lifetime needs a PTTL)."""
        found: dict[Key, tuple[Any, Optional[float]]] = {}
        unknown: list[Key] = []
        for group, reply in zip(groups, replies):
            if isinstance(reply, Exception):
                raise reply
            for k, data in zip(group, reply):
                ok, value, remaining = self.codec.loads_with_ttl(k, data)
                if ok:
                    found[k] = (value, remaining)
                    if remaining is not None and remaining < 0:
                        unknown.append(k)
        return found, unknown

    @staticmethod
    def _absorb_pttls(found: dict[Key, tuple[Any, Optional[float]]], keys: list[Key], pttls: list[Any]) -> None:
        """Fill in the lifetimes of payloads without a header from their PTTL replies."""
        for k, pttl in zip(keys, pttls):
            found[k] = (found[k][0], pttl_remaining(pttl))

    def _set_args(self, key: Key, value: Any, ttl: Any) -> tuple[bytes, bytes, Optional[int]]:
        seconds = self._ttl(ttl)
        px = ttl_ms(seconds) if seconds else None
        return self.redis_key(key), self.codec.dumps(value, px), px

    def _set_commands(self, mapping: Mapping[Key, Any], ttl: Any) -> list[tuple[Any, ...]]:
        """One SET per item (for a pipeline)."""
        out: list[tuple[Any, ...]] = []
        for k, v in mapping.items():
            rkey, data, px = self._set_args(k, v, ttl)
            out.append(("SET", rkey, data, "PX", px) if px else ("SET", rkey, data))
        return out

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


class Membership:
    """``key in cache`` for the sync caches (one EXISTS)."""

    def exists(self, key: Key) -> bool:  # pragma: no cover - provided by the cache
        raise NotImplementedError

    def __contains__(self, key: Key) -> bool:
        return self.exists(key)


class AsyncMembership:
    """The asyncio caches have no ``in`` (it cannot be awaited): use ``await cache.exists(key)``."""
