"""The L2 contract, written once for sync and asyncio (see :mod:`fastcache.protocols`)."""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional, Protocol

__all__ = ("AsyncL2",)


class AsyncL2(Protocol):
    """A shared tier for a tiered cache (``RedisCache``, ``ShardedRedisCache``; for the
    asyncio tiered cache their asyncio versions, with coroutine methods)."""

    async def get_with_ttl(self, key: Any) -> tuple[bool, Any, Optional[float]]: ...

    async def get_many_with_ttl(self, keys: Iterable[Any]) -> Mapping[Any, tuple[Any, Optional[float]]]: ...

    async def set(self, key: Any, value: Any, ttl: Any = ..., tags: Optional[Iterable[str]] = None) -> None: ...

    async def set_many(self, mapping: Mapping[Any, Any], ttl: Any = ...) -> None: ...

    async def delete(self, key: Any) -> bool: ...

    async def delete_many(self, keys: Iterable[Any]) -> int: ...

    async def invalidate_tag(self, tag: str) -> list[Any]: ...

    async def clear(self) -> int: ...
