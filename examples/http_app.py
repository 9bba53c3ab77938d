"""A small shop API with response caching, surrogate keys and purge - a complete ASGI app.

Run it:   pip install fastcache uvicorn && uvicorn examples.http_app:app
Several processes sharing one Redis (every purge reaches all of them):
          FASTCACHE_REDIS_URL=redis://localhost:6379/0 uvicorn examples.http_app:app --workers 4

    curl -i localhost:8000/products/1          # X-Cache: MISS, then HIT with an Age
    curl -i -X PUT 'localhost:8000/products/1?price=9.5'
    curl -i localhost:8000/products            # the list was purged with the product (Surrogate-Key)

No framework: the handlers are plain ASGI so that nothing but fastcache is
needed; the middleware wraps any ASGI app (Starlette, FastAPI, Django's
ASGI handler...) the same way.
"""
from __future__ import annotations

import json
import os
import urllib.parse
from typing import Any

from fastcache import LRUCache, TieredCache
from fastcache.http import CacheControl, CacheMiddleware, RouteRules

PRODUCTS = {1: {"id": 1, "name": "teapot", "price": 12.0}, 2: {"id": 2, "name": "cup", "price": 4.5}}

# the policies, by path, like a web server's location blocks: the longest prefix wins,
# and a rule applies to responses that do not set Cache-Control themselves
RULES = RouteRules({
    "/static/": "static",                                  # public, max-age=31536000, immutable
    "/me": "private",                                      # private, no-cache: never in a shared cache
    "= /health": "no-store",
})
PRODUCT_POLICY = CacheControl(public=True, max_age=60, stale_while_revalidate=30, stale_if_error=300)


def make_cache() -> Any:
    """One process: an LRUCache.  With FASTCACHE_REDIS_URL: L1 + Redis L2, purges sent to every process."""
    url = os.environ.get("FASTCACHE_REDIS_URL")
    if not url:
        return LRUCache(10_000)
    from fastcache.redis import RedisCache
    return TieredCache(LRUCache(10_000), RedisCache(url, prefix="shop:"))


async def respond(send: Any, status: int, body: Any, headers: Any = ()) -> None:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    ctype = b"application/javascript" if isinstance(body, bytes) else b"application/json"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(payload)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": payload})


async def shop(scope: Any, receive: Any, send: Any) -> None:
    """The application, unaware of the cache except for the headers it sets."""
    if scope["type"] == "lifespan":                         # the server's startup and shutdown
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    path, method = scope["path"], scope["method"]
    query = dict(urllib.parse.parse_qsl(scope.get("query_string", b"").decode()))
    policy = [(b"cache-control", str(PRODUCT_POLICY).encode())]
    if path == "/products":
        # the list carries the key of every product it shows: changing one purges it too
        keys = " ".join(["products"] + [f"product-{pid}" for pid in PRODUCTS]).encode()
        await respond(send, 200, list(PRODUCTS.values()), policy + [(b"surrogate-key", keys)])
    elif path.startswith("/products/") and path[10:].isdigit():
        pid = int(path[10:])
        if pid not in PRODUCTS:
            await respond(send, 404, {"error": "no such product"}, [(b"cache-control", b"public, max-age=10")])
        elif method == "PUT":
            PRODUCTS[pid]["price"] = float(query["price"])
            await cached.purge_key(f"product-{pid}")       # this URL, the list, every page showing it
            await respond(send, 200, PRODUCTS[pid])
        else:
            keys = f"product-{pid} products".encode()
            await respond(send, 200, PRODUCTS[pid], policy + [(b"surrogate-key", keys)])
    elif path.startswith("/static/"):
        await respond(send, 200, b"console.log('hello');")
    elif path == "/me":
        await respond(send, 200, {"user": "alice"})
    elif path == "/health":
        await respond(send, 200, {"ok": True})
    else:
        await respond(send, 404, {"error": "not found"})


cached = CacheMiddleware(shop, make_cache(), rules=RULES)
app = cached
