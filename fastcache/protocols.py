"""What each layer must offer the one above it, as ``typing.Protocol``s.

A tiered cache takes any L1 that is an :class:`L1Cache` and any L2 that is an
:class:`L2` (sync) or :class:`AsyncL2` (asyncio); mypy checks both at the
call site.  What only some L2s can do is a protocol of its own, tested once,
when the tiered cache is built (never per call): :class:`Namespaced` (a key
prefix and a default TTL), :class:`InvalidationSource` (clients to publish
and subscribe invalidations on) and :class:`InvalidationRouter` (which client
announces which keys, for a sharded L2).  ``L2`` is generated from
``AsyncL2`` (``_async_l2.py``) by ``scripts/unasync.py``, like every sync/async pair.
"""
from __future__ import annotations

from typing import Any, Optional, Protocol, runtime_checkable

from ._async_l2 import AsyncL2
from ._sync_l2 import L2

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
