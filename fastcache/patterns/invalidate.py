"""Invalidation on write: drop cached copies once the store has committed.

::

    with invalidate_on_write(users, f"user:{uid}", tags=[f"team:{team}"], bus=bus):
        db.execute("UPDATE users SET ... WHERE id = ?", (..., uid))
        db.commit()

Nothing happens if the block raises (the transaction did not commit, the
cached value still matches the store).  On success every named key is
deleted from the cache - from every tier: a ``TieredCache`` deletes from L2
and tells the other processes' L1s - every tag is purged, and the event is
published on ``bus`` (an :class:`InvalidationBus`) for caches of other
kinds in other processes.  Deleting *after* the commit is the order that
cannot leave a stale value behind for longer than a concurrent reader's
load: deleting before would let a reader refill the old value in between.
"""
from __future__ import annotations

import contextlib
from typing import Any, AsyncIterator, Iterable, Iterator, Optional

from ..tags import check_tags
from ._adapter import cache_delete

__all__ = ("invalidate_on_write", "ainvalidate_on_write", "invalidate")


def invalidate(cache: Any, keys: Iterable[Any] = (), tags: Optional[Iterable[str]] = None, *,
               bus: Any = None, reason: str = "write") -> None:
    """Delete keys and purge tags in cache now, and publish the event on bus."""
    key_list = list(keys)
    tag_list = check_tags(tags)
    if cache is not None:
        for k in key_list:
            cache_delete(cache, k)
        for t in tag_list:
            purge = getattr(cache, "invalidate_tag", None)
            if purge is None:
                raise TypeError(f"{type(cache).__name__} has no tags; wrap it in fastcache.tags.TaggedCache")
            purge(t)
    if bus is not None and (key_list or tag_list):
        bus.publish(keys=key_list, tags=tag_list, reason=reason)


@contextlib.contextmanager
def invalidate_on_write(cache: Any, *keys: Any, tags: Optional[Iterable[str]] = None, bus: Any = None,
                        reason: str = "write") -> Iterator[None]:
    """Run the block (the store write and its commit); if it succeeds, invalidate."""
    tag_list = check_tags(tags)
    yield
    invalidate(cache, keys, tag_list, bus=bus, reason=reason)


@contextlib.asynccontextmanager
async def ainvalidate_on_write(cache: Any, *keys: Any, tags: Optional[Iterable[str]] = None, bus: Any = None,
                               reason: str = "write") -> AsyncIterator[None]:
    """:func:`invalidate_on_write` for asyncio caches (``AsyncTieredCache``, ``AsyncRedisCache``)."""
    tag_list = check_tags(tags)
    yield
    for k in keys:
        await cache.delete(k)
    for t in tag_list:
        await cache.invalidate_tag(t)
    if bus is not None and (keys or tag_list):
        bus.publish(keys=list(keys), tags=tag_list, reason=reason)
