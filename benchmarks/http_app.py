"""The app `http_bench.py` serves with uvicorn: one handler, cached and uncached.

Both routes do the same work - an emulated 2 ms database query and the JSON
rendering of 100 rows - behind the same CacheMiddleware; ``/cached`` answers
``public, max-age=60``, ``/uncached`` answers ``no-store``.  ``/bare`` is the
handler without the middleware.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

from fastcache import LRUCache
from fastcache.http import CacheMiddleware

ROWS = [{"id": i, "name": f"item {i}", "price": i * 1.25, "tags": ["a", "b"]} for i in range(100)]


async def handler(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await asyncio.sleep(0.002)                      # the database
    body = json.dumps(ROWS).encode()
    policy = b"public, max-age=60" if scope["path"] == "/cached" else b"no-store"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"cache-control", policy),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


cached = CacheMiddleware(handler, LRUCache(1000))


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "http" and scope["path"] == "/bare":
        await handler(scope, receive, send)
    else:
        await cached(scope, receive, send)
