"""Purging cached responses: here, in every other process, and at the CDN.

Every process learns of a purge the way tag invalidation already travels:

* a ``TieredCache``/``AsyncTieredCache`` (or a Redis cache, shared by all)
  needs nothing more - ``invalidate_tag`` reaches every process;
* an L1-only cache does, given ``bus=`` (an
  :class:`~fastcache.patterns.InvalidationBus` on Redis pub/sub): the
  middleware subscribes its cache, and a purge is published on the bus,
  which applies it here and in every subscribed process.

Then the CDN, if one is configured (:mod:`fastcache.http.cdn`): the local
purge happens first, so a CDN that refetches at once cannot pick up the
old response from this cache.
"""
from __future__ import annotations

import asyncio
import inspect
from typing import Any, Optional, Sequence

from ..tags import check_tag
from .store import HTTPStore, path_tag, prefix_purge_tags

__all__ = ("Purger",)


def _cdns(cdn: Any) -> list[Any]:
    if cdn is None:
        return []
    cdns = list(cdn) if isinstance(cdn, (list, tuple)) else [cdn]
    for c in cdns:
        for name in ("purge_paths", "purge_prefixes", "purge_keys"):
            if not callable(getattr(c, name, None)):
                raise TypeError(f"a CDN purger needs a {name}() method; {type(c).__name__} has none")
    return cdns


def _check_path(path: Any) -> str:
    if not isinstance(path, str):
        raise TypeError(f"a path is a str, not {type(path).__name__}")
    if not path.startswith("/"):
        raise ValueError(f"a path starts with '/', got {path!r}")
    return path


class Purger:
    """The purge operations of one middleware (sync and asyncio forms)."""

    def __init__(self, store: HTTPStore, bus: Any = None, cdn: Any = None) -> None:
        self.store = store
        self.bus = bus
        self.cdns = _cdns(cdn)
        if bus is not None:
            if not callable(getattr(bus, "publish", None)) or not callable(getattr(bus, "subscribe", None)):
                raise TypeError("bus must be an InvalidationBus (or AsyncInvalidationBus)")
            bus.subscribe(store.cache)

    @staticmethod
    def plan(kind: str, value: Any) -> tuple[list[str], str, list[str]]:
        """(tags to purge, the CDN method, its argument) for purge/purge_prefix/purge_key."""
        if kind == "path":
            path = _check_path(value)
            return [path_tag(path)], "purge_paths", [path]
        if kind == "prefix":
            return prefix_purge_tags(value), "purge_prefixes", [value]
        tag = check_tag(value)
        return [tag], "purge_keys", [tag]

    # -- sync ---------------------------------------------------------------------

    def run(self, kind: str, value: Any) -> int:
        """Purge here and everywhere; the number of URLs this process dropped."""
        tags, method, args = self.plan(kind, value)
        removed = self.purge_tags(tags)
        for cdn in self.cdns:
            getattr(cdn, method)(args)
        return removed

    def purge_tags(self, tags: Sequence[str]) -> int:
        """Drop every response with any of tags, here and in every process."""
        if self.store.is_async:
            raise TypeError("this cache is an asyncio one: use the ASGI middleware's async purge methods")
        removed = 0
        for tag in tags:
            removed += len(self.store.invalidate_tag(tag) or ())
        if self.bus is not None:
            result = self.bus.publish(tags=list(tags), reason="http-purge")
            if inspect.isawaitable(result):
                raise TypeError("an AsyncInvalidationBus needs the ASGI middleware's async purge methods")
        return removed

    def delete_urls(self, keys: Sequence[str]) -> None:
        """Drop URLs (every variant) after an unsafe request changed them."""
        for key in keys:
            self.store.delete(key)
        if self.bus is not None and keys:
            self.bus.publish(keys=list(keys), reason="http-write")

    # -- asyncio ------------------------------------------------------------------

    async def arun(self, kind: str, value: Any) -> int:
        """:meth:`run` for asyncio: the cache awaited if it is an asyncio one, the CDN off the loop."""
        tags, method, args = self.plan(kind, value)
        removed = await self.apurge_tags(tags)
        for cdn in self.cdns:
            await asyncio.to_thread(getattr(cdn, method), args)
        return removed

    async def apurge_tags(self, tags: Sequence[str]) -> int:
        """:meth:`purge_tags` for asyncio."""
        removed = 0
        for tag in tags:
            result: Optional[Any] = self.store.invalidate_tag(tag)
            if inspect.isawaitable(result):
                result = await result
            removed += len(result or ())
        if self.bus is not None:
            published = self.bus.publish(tags=list(tags), reason="http-purge")
            if inspect.isawaitable(published):
                await published
        return removed

    async def adelete_urls(self, keys: Sequence[str]) -> None:
        """:meth:`delete_urls` for asyncio."""
        for key in keys:
            result = self.store.delete(key)
            if inspect.isawaitable(result):
                await result
        if self.bus is not None and keys:
            published = self.bus.publish(keys=list(keys), reason="http-write")
            if inspect.isawaitable(published):
                await published
