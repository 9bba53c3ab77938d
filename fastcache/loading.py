"""Calling a user's loader: the one place that knows a loader may be a coroutine function.

``call_loader_async`` (used by the asyncio code) awaits what an async loader
returns; ``call_loader_sync`` is its twin for the code that
``scripts/unasync.py`` generates from the asyncio source (a sync loader only).
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

__all__ = ("call_loader_async", "call_loader_sync")


async def call_loader_async(loader: Callable[[Any], Any], key: Any) -> Any:
    """``loader(key)``, awaited if it returned an awaitable."""
    value = loader(key)
    if inspect.isawaitable(value):
        value = await value
    return value


def call_loader_sync(loader: Callable[[Any], Any], key: Any) -> Any:
    """``loader(key)``."""
    return loader(key)
