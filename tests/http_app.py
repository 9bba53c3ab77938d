"""An app run by uvicorn in a child process for the cross-process purge test.

FASTCACHE_HTTP_MODE=tiered: the responses live in TieredCache(LRUCache, RedisCache);
FASTCACHE_HTTP_MODE=bus: in a process-local LRUCache, purges travel on an InvalidationBus.
GET /page answers with this process's pid (max-age=600, Surrogate-Key: page);
POST /_purge?kind=key&value=page purges through the middleware.
"""
from __future__ import annotations

import os
import urllib.parse
from typing import Any

from fastcache import LRUCache, TieredCache
from fastcache.http import CacheMiddleware
from fastcache.patterns import InvalidationBus
from fastcache.redis import RedisCache

URL = os.environ["FASTCACHE_HTTP_REDIS"]
MODE = os.environ["FASTCACHE_HTTP_MODE"]


calls = 0


async def origin(scope: Any, receive: Any, send: Any) -> None:
    global calls
    calls += 1
    body = f"pid {os.getpid()} call {calls}".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"cache-control", b"max-age=600"), (b"surrogate-key", b"page")]})
    await send({"type": "http.response.body", "body": body})


if MODE == "tiered":
    tiered = TieredCache(LRUCache(1000), RedisCache(URL, prefix="xproc:"))
    assert tiered.wait_ready(10), "not subscribed to the invalidation channel"
    middleware = CacheMiddleware(origin, tiered)
else:
    bus = InvalidationBus(URL, channel="xproc-http")
    assert bus.wait_ready(10), "not subscribed to the bus"
    middleware = CacheMiddleware(origin, LRUCache(1000), bus=bus)


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "http" and scope["path"] == "/_purge":
        q = dict(urllib.parse.parse_qsl(scope["query_string"].decode()))
        removed = await middleware.purge_key(q["value"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(removed).encode()})
        return
    await middleware(scope, receive, send)
