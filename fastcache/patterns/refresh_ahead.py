"""Refresh-ahead: hot entries are reloaded in the background before they expire."""
from __future__ import annotations

from typing import Any, Callable

from .cache_aside import CacheAside

__all__ = ("RefreshAhead",)


class RefreshAhead(CacheAside):
    """A :class:`CacheAside` whose reads after ``refresh_threshold`` of the TTL
    (default 80 %) return the current value at once and start one background
    reload (deduplicated across concurrent readers).  A failed reload keeps
    the old value until it really expires.  ``get(key)`` / ``await aget(key)``.
    Other :class:`CacheAside` options (``stale_while_revalidate``,
    ``stale_if_error``, ``lease``...) combine with it.
    """

    def __init__(self, cache: Any, loader: Callable[[Any], Any], ttl: float,
                 refresh_threshold: float = 0.8, **options: Any) -> None:
        if loader is None:
            raise TypeError("RefreshAhead needs a loader: RefreshAhead(cache, loader, ttl)")
        super().__init__(cache, loader, ttl=ttl, refresh_threshold=refresh_threshold, **options)
