"""Waiting, in the two modes: ``async_sleep`` for the asyncio code and
``sync_sleep`` for the code ``scripts/unasync.py`` generates from it."""
from __future__ import annotations

import asyncio
import time

__all__ = ("async_sleep", "sync_sleep")


async def async_sleep(seconds: float) -> None:
    """Let the loop run for ``seconds``."""
    await asyncio.sleep(seconds)


def sync_sleep(seconds: float) -> None:
    """Block the thread for ``seconds``."""
    time.sleep(seconds)
