"""The HTTP middlewares over Redis through the fault-injecting proxy (both servers' flows).

During a fault every request is answered by the app (the cache is a miss, never an
error), within READ_BOUND seconds more than the app takes; within HEAL_BOUND of healing
responses are stored and served from Redis again.
"""
from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import pytest

from faultproxy import FaultProxy
from fastcache.http import CacheMiddleware, WSGICacheMiddleware
from fastcache.redis import AsyncRedisCache, RedisCache

READ_BOUND = 2.5 + 1.0         # a read plus a store attempt, each bounded by a 1 s timeout
HEAL_BOUND = 2.0


def environ(path: str) -> dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "t",
            "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""),
            "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "example.com"}


@pytest.mark.parametrize("fault", ["partition", "reset"])
def test_wsgi_middleware_through_a_fault(fault: str, redis_server: Any) -> None:
    calls = []

    def app(env: Any, start_response: Any) -> Any:
        calls.append(env["PATH_INFO"])
        start_response("200 OK", [("cache-control", "max-age=60"), ("content-type", "text/plain")])
        return [b"body of " + env["PATH_INFO"].encode()]

    with FaultProxy(redis_server.port) as proxy:
        mw = WSGICacheMiddleware(app, RedisCache(proxy.url, prefix=f"fh-{fault}:"))

        def get(path: str) -> tuple[str, bytes, float]:
            headers: list[Any] = []
            t0 = time.monotonic()
            body = b"".join(mw(environ(path), lambda s, h, exc_info=None: headers.append((s, dict(h)))))
            status, hdrs = headers[0]
            assert status.startswith("200")
            return hdrs.get("X-Cache", hdrs.get("x-cache", "")), body, time.monotonic() - t0

        assert get("/a")[0] == "MISS" and get("/a")[0] == "HIT"
        getattr(proxy, fault)()
        t_end = time.monotonic() + 2.0
        i = 0
        while time.monotonic() < t_end:
            _, body, took = get(f"/during{i % 3}")
            assert body == f"body of /during{i % 3}".encode() and took <= READ_BOUND, took
            i += 1
        proxy.heal()
        healed = time.monotonic()
        while get("/after")[0] != "HIT":
            assert time.monotonic() - healed <= HEAL_BOUND + READ_BOUND
            time.sleep(0.05)
        mw.close()


@pytest.mark.parametrize("fault", ["partition", "reset"])
def test_asgi_middleware_through_a_fault(fault: str, redis_server: Any) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"cache-control", b"max-age=60")]})
        await send({"type": "http.response.body", "body": b"body of " + scope["path"].encode()})

    async def main() -> None:
        with FaultProxy(redis_server.port) as proxy:
            cache = AsyncRedisCache(proxy.url, prefix=f"fha-{fault}:")
            mw = CacheMiddleware(app, cache)

            async def get(path: str) -> tuple[str, bytes, float]:
                sent: list[Any] = []

                async def receive() -> Any:
                    return {"type": "http.request", "body": b"", "more_body": False}

                async def send(message: Any) -> None:
                    sent.append(message)
                scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
                         "query_string": b"", "headers": [(b"host", b"example.com")], "scheme": "http",
                         "server": ("t", 80), "http_version": "1.1"}
                t0 = time.monotonic()
                await mw(scope, receive, send)
                took = time.monotonic() - t0
                assert sent[0]["status"] == 200
                headers = dict(sent[0]["headers"])
                body = b"".join(m.get("body", b"") for m in sent[1:])
                return headers.get(b"x-cache", b"").decode(), body, took

            assert (await get("/a"))[0] == "MISS" and (await get("/a"))[0] == "HIT"
            getattr(proxy, fault)()
            t_end = time.monotonic() + 2.0
            i = 0
            while time.monotonic() < t_end:
                _, body, took = await get(f"/during{i % 3}")
                assert body == f"body of /during{i % 3}".encode() and took <= READ_BOUND, took
                i += 1
            proxy.heal()
            healed = time.monotonic()
            while (await get("/after"))[0] != "HIT":
                assert time.monotonic() - healed <= HEAL_BOUND + READ_BOUND
                await asyncio.sleep(0.05)
            await cache.close()
    asyncio.run(main())
