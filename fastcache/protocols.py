"""What each layer must offer the one above it, as ``typing.Protocol``s.

A tiered cache takes any L1 that is an :class:`L1Cache` and any L2 that is an
:class:`L2` (sync) or :class:`AsyncL2` (asyncio); mypy checks both at the
call site.  What only some L2s can do is a protocol of its own, tested once,
when the tiered cache is built (never per call): :class:`Namespaced` (a key
prefix and a default TTL), :class:`InvalidationSource` (clients to publish
and subscribe invalidations on) and :class:`InvalidationRouter` (which client
announces which keys, for a sharded L2).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional, Protocol, runtime_checkable

__all__ = ("L1Cache", "L2", "AsyncL2", "Namespaced", "InvalidationSource", "InvalidationRouter")


@runtime_checkable
class L1Cache(Protocol):
    """An in-process cache a tiered cache can own: a mutable mapping with ``get``/``pop``."""

    def get(self, key: Any, default: Any = None) -> Any: ...

    def pop(self, key: Any, default: Any = ...) -> Any: ...

    def clear(self) -> None: ...

    def __setitem__(self, key: Any, value: Any) -> None: ...

    def __contains__(self, key: Any) -> bool: ...

    def __len__(self) -> int: ...


class L2(Protocol):
    """A shared tier for :class:`~fastcache.TieredCache` (``RedisCache``, ``ShardedRedisCache``)."""

    def get_with_ttl(self, key: Any) -> tuple[bool, Any, Optional[float]]: ...

    def get_many_with_ttl(self, keys: Iterable[Any]) -> Mapping[Any, tuple[Any, Optional[float]]]: ...

    def set(self, key: Any, value: Any, ttl: Any = ..., tags: Optional[Iterable[str]] = None) -> None: ...

    def set_many(self, mapping: Mapping[Any, Any], ttl: Any = ...) -> None: ...

    def delete(self, key: Any) -> bool: ...

    def delete_many(self, keys: Iterable[Any]) -> int: ...

    def invalidate_tag(self, tag: str) -> list[Any]: ...

    def clear(self) -> int: ...


class AsyncL2(Protocol):
    """A shared tier for :class:`~fastcache.AsyncTieredCache` (``AsyncRedisCache``, ...)."""

    async def get_with_ttl(self, key: Any) -> tuple[bool, Any, Optional[float]]: ...

    async def get_many_with_ttl(self, keys: Iterable[Any]) -> Mapping[Any, tuple[Any, Optional[float]]]: ...

    async def set(self, key: Any, value: Any, ttl: Any = ..., tags: Optional[Iterable[str]] = None) -> None: ...

    async def set_many(self, mapping: Mapping[Any, Any], ttl: Any = ...) -> None: ...

    async def delete(self, key: Any) -> bool: ...

    async def delete_many(self, keys: Iterable[Any]) -> int: ...

    async def invalidate_tag(self, tag: str) -> list[Any]: ...

    async def clear(self) -> int: ...


@runtime_checkable
class Namespaced(Protocol):
    """An L2 with a key prefix (its namespace: one invalidation channel per prefix) and a default TTL."""

    prefix: bytes
    default_ttl: Optional[float]


@runtime_checkable
class InvalidationSource(Protocol):
    """An L2 whose Redis clients carry the namespace's invalidation messages."""

    def invalidation_clients(self, live: bool = False) -> list[Any]: ...


@runtime_checkable
class InvalidationRouter(Protocol):
    """An L2 spread over nodes: which client announces which keys (each key on its owner)."""

    def invalidation_routes(self, keys: Optional[list[Any]]) -> list[tuple[Any, Optional[list[Any]]]]: ...
