"""The HTTP cache on a real Redis: a shared L2, the asyncio cache under uvicorn, and purges
that reach other processes (two uvicorn processes, TieredCache or an InvalidationBus)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import urllib.parse
from typing import Any, Iterator

import httpx
import pytest

from conftest import wait_for
from fastcache.http import CacheMiddleware, WSGICacheMiddleware
from fastcache.redis import AsyncRedisCache, RedisCache
from http_harness import Origin, serve_asgi, serve_wsgi
from redis_servers import free_port

HERE = os.path.dirname(os.path.abspath(__file__))


def test_two_wsgi_middlewares_share_responses_and_purges_through_redis(redis_url: str, caplog: Any) -> None:
    origin = Origin()
    origin.route("/shared", headers={"cache-control": "max-age=60", "surrogate-key": "s"})
    first = WSGICacheMiddleware(origin.wsgi, RedisCache(redis_url, prefix="wsgi-shared:"))
    second = WSGICacheMiddleware(origin.wsgi, RedisCache(redis_url, prefix="wsgi-shared:"))
    # the Host header is part of the key: the two servers stand for one site
    with serve_wsgi(first) as u1, serve_wsgi(second) as u2, httpx.Client(headers={"host": "example.com"}) as client:
        assert client.get(u1 + "/shared").headers["x-cache"] == "MISS"
        hit = client.get(u2 + "/shared")
        assert hit.headers["x-cache"] == "HIT" and hit.content == b"ok#1"     # stored by the other one
        assert second.purge_key("s") == 1
        assert client.get(u1 + "/shared").headers["x-cache"] == "MISS"
        # a corrupt payload under the key is a miss and a log line, never an error
        raw = RedisCache(redis_url, prefix="wsgi-shared:")
        raw.client.set(b"wsgi-shared:" + next(k for k in raw.client.keys("wsgi-shared:http:*")
                                              if not k.startswith(b"wsgi-shared:http:fc"))[len(b"wsgi-shared:"):],
                       b"\x00garbage")
        with caplog.at_level(logging.WARNING):
            assert client.get(u2 + "/shared").headers["x-cache"] == "MISS"
    assert origin.calls["/shared"] == 3
    first.close()
    second.close()


def test_asgi_middleware_over_the_asyncio_redis_cache(redis_url: str) -> None:
    origin = Origin()
    origin.route("/a", headers={"cache-control": "max-age=60, stale-if-error=60", "vary": "accept"})
    mw = CacheMiddleware(origin.asgi, AsyncRedisCache(redis_url, prefix="asgi-redis:"))
    assert mw.core.store.is_async

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/_purge":
            q = dict(urllib.parse.parse_qsl(scope["query_string"].decode()))
            removed = await mw.purge_prefix(q["value"])
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": str(removed).encode()})
            return
        await mw(scope, receive, send)
    with serve_asgi(app) as url, httpx.Client(base_url=url) as client:
        assert client.get("/a", headers={"accept": "text/html"}).headers["x-cache"] == "MISS"
        assert client.get("/a", headers={"accept": "text/html"}).headers["x-cache"] == "HIT"
        assert client.get("/a", headers={"accept": "application/json"}).headers["x-cache"] == "MISS"
        assert client.get("/a", headers={"accept": "application/json"}).headers["x-cache"] == "HIT"
        assert client.post("/_purge", params={"value": "/"}).text == "1"        # one URL, both variants
        assert client.get("/a", headers={"accept": "text/html"}).headers["x-cache"] == "MISS"
    assert origin.calls["/a"] == 3


@contextlib.contextmanager
def uvicorn_process(mode: str, redis_url: str) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ, FASTCACHE_HTTP_REDIS=redis_url, FASTCACHE_HTTP_MODE=mode,
               PYTHONPATH=os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "http_app:app", "--port", str(port),
                             "--log-level", "warning"], env=env, cwd=HERE)
    url = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            try:
                httpx.get(url + "/health", timeout=1)
                return True
            except httpx.HTTPError:
                return False
        assert wait_for(up, timeout=30), "uvicorn did not start"
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("mode", ["tiered", "bus"])
def test_a_purge_in_one_process_drops_the_response_in_every_process(mode: str, redis_url: str) -> None:
    import redis
    redis.Redis.from_url(redis_url).flushdb()
    with uvicorn_process(mode, redis_url) as a, uvicorn_process(mode, redis_url) as b:
        host = {"host": "example.com"}          # one site behind two processes
        for url in (a, b):
            httpx.get(url + "/page", headers=host)
        pa, pb = httpx.get(a + "/page", headers=host), httpx.get(b + "/page", headers=host)
        assert pa.headers["x-cache"] == pb.headers["x-cache"] == "HIT"
        if mode == "tiered":
            assert pa.content == pb.content                    # one copy in L2, both L1s filled from it
        else:
            assert pa.content != pb.content                    # each process keeps its own
        assert httpx.post(a + "/_purge", params={"value": "page"}).status_code == 200
        # neither process serves its old copy any more (B may find A's new one in L2: that is a HIT)
        assert wait_for(lambda: httpx.get(b + "/page", headers=host).content != pb.content, timeout=10)
        assert httpx.get(a + "/page", headers=host).content != pa.content
