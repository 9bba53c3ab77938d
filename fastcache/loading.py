"""Calling user code that may be sync or async: the one place that knows a
loader, a store's write function or a cache's method may return an awaitable.

``call_async`` (used by the asyncio code) awaits what it gets back;
``call_sync`` is its twin in the code that ``scripts/unasync.py`` generates
from the asyncio source (sync callables only).
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

__all__ = ("call_async", "call_sync")


async def call_async(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, awaited if it returned an awaitable."""
    value = fn(*args)
    if inspect.isawaitable(value):
        value = await value
    return value


def call_sync(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``."""
    return fn(*args)
