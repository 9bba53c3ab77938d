"""The compiled paths above the core, each against its pure-Python twin (``impl``):
``Completed`` (the awaitable an async hit returns), ``CacheAside``'s front (hits decided
in C, everything else handed to the engine with what was read) and ``@cached``'s call path.
"""
from __future__ import annotations

import asyncio
import gc
import sys
import tracemalloc
import weakref
from typing import Any

import pytest

from conftest import FakeTimer
from fastcache import LRUCache, TTLCache


# -- Completed ------------------------------------------------------------------------

def test_completed_is_awaitable_and_a_coroutine_to_asyncio(impl: Any) -> None:
    Completed = impl.aside.Completed
    err = ValueError("as a value")

    async def main() -> None:
        assert await Completed(5) == 5
        assert await Completed((1, 2)) == (1, 2)          # a tuple is the value, not arguments
        assert await Completed(err) is err                 # an exception is returned, not raised
        assert await Completed(None) is None
        c = Completed([1])
        assert await c == [1] and await c == [1]          # awaited twice
        assert asyncio.iscoroutine(Completed(1))
        assert await asyncio.create_task(Completed(7)) == 7
        assert await asyncio.gather(Completed(1), Completed((2,))) == [1, (2,)]
        assert await asyncio.wait_for(Completed(3), 1) == 3

    asyncio.run(main())
    c = Completed(9)
    with pytest.raises(StopIteration) as stop:
        c.send(None)
    assert stop.value.value == 9
    with pytest.raises(KeyError):
        c.throw(KeyError("k"))
    with pytest.raises(KeyError):
        c.throw(KeyError, KeyError("x"))
    assert c.close() is None and "9" in repr(c)


# -- CacheAside's front -----------------------------------------------------------------

def test_cache_aside_hits_and_misses_count_alike(impl: Any) -> None:
    loads: list[int] = []

    def load(k: int) -> int:
        loads.append(k)
        return k * 10

    for cache in (impl.LRUCache(100), {}, impl.TTLCache(100, 60)):
        loads.clear()
        engine = impl.CacheAside(cache, load)
        assert [engine.get(k) for k in (1, 2, 1, 1, 3, 2)] == [10, 20, 10, 10, 30, 20]
        assert loads == [1, 2, 3]
        st = engine.stats()
        assert (st.hits, st.misses, st.loads) == (3, 3, 3)
        if hasattr(cache, "hits"):
            assert (cache.hits, cache.misses) == (3, 3)         # the cache's own counters: one read each


def test_cache_aside_freshness_decided_alike(impl: Any) -> None:
    timer = FakeTimer(1000.0)
    loads: list[int] = []

    def load(k: int) -> int:
        loads.append(k)
        return len(loads)

    engine = impl.CacheAside(impl.LRUCache(100), load, ttl=10, stale_while_revalidate=5, timer=timer)
    assert engine.get("a") == 1
    timer.tick(9.9)
    assert engine.get("a") == 1 and engine.stats().stale_served == 0          # fresh: a hit
    timer.tick(0.2)
    assert engine.get("a") == 1 and engine.stats().stale_served == 1          # stale: served, reloaded
    assert engine.wait_refreshes()
    assert engine.get("a") == 2
    timer.tick(20)
    assert engine.get("a") == 3                                               # expired: a miss
    engine.cache["plain"] = "stored by someone else"
    assert engine.get("plain") == "stored by someone else"                    # not an entry: a hit
    neg = impl.CacheAside(impl.LRUCache(10), lambda k: 1 / 0, ttl=10, negative_ttl=5, timer=timer)
    for _ in range(2):
        with pytest.raises(ZeroDivisionError):
            neg.get("x")                                                       # the cached error, raised
    assert neg.stats().negative_hits == 1
    refresh = impl.CacheAside(impl.LRUCache(10), load, ttl=10, refresh_threshold=0.5, timer=timer)
    before = len(loads)
    refresh.get("r")
    timer.tick(6)
    refresh.get("r")
    assert refresh.wait_refreshes() and len(loads) == before + 2              # the read past 0.5 reloaded
    engine.close()
    refresh.close()


def test_wall_clock_default_timer(impl: Any) -> None:
    engine = impl.CacheAside(impl.LRUCache(10), lambda k: object(), ttl=60, stale_while_revalidate=5)
    first = engine.get("k")
    assert engine.get("k") is first and engine.stats().hits == 1
    engine.close()


def test_shared_engine_does_not_keep_the_cache_alive() -> None:
    from fastcache.patterns import get_or_load
    cache = LRUCache(10)
    assert get_or_load(cache, "k", lambda k: 1) == 1 and get_or_load(cache, "k", lambda k: 2) == 1
    ref = weakref.ref(cache)
    del cache
    gc.collect()
    assert ref() is None


# -- @cached over CacheAside: sync and async ----------------------------------------------

def test_async_hit_is_completed_and_misses_run_once(impl: Any) -> None:
    calls: list[int] = []

    @impl.cached(impl.LRUCache(100))
    async def double(x: int) -> int:
        calls.append(x)
        await asyncio.sleep(0)
        return 2 * x

    async def main() -> None:
        assert await asyncio.gather(*(double(3) for _ in range(5))) == [6] * 5
        assert calls == [3]                                  # single-flight
        hit = double(3)
        if impl.compiled:
            assert type(hit) is impl.aside.Completed
        assert await hit == 6
        assert await asyncio.create_task(double(3)) == 6
        assert await double(x=3) == 6 and calls == [3, 3]   # keyword arguments: another key
        st = double.cache_info()
        assert (st.hits, st.misses) == (2, 6)             # the four followers missed too

    asyncio.run(main())


def test_async_errors_are_not_cached(impl: Any) -> None:
    n = 0

    @impl.cached(impl.LRUCache(10))
    async def flaky(x: int) -> int:
        nonlocal n
        n += 1
        if n == 1:
            raise RuntimeError("first call fails")
        return x

    async def main() -> None:
        with pytest.raises(RuntimeError):
            await flaky(1)
        assert await flaky(1) == 1 and await flaky(1) == 1 and n == 2

    asyncio.run(main())


def test_sync_function_with_options_and_async_engine_refused(impl: Any) -> None:
    timer = FakeTimer(0.0)

    @impl.cached(impl.LRUCache(10), ttl=10, stale_while_revalidate=5, timer=timer)
    def f(x: int) -> list[int]:
        return [x]
    assert f(1) is f(1) and f.cache_info().hits == 1


def test_async_method_hits_by_weak_self(impl: Any) -> None:
    class Repo:
        def __init__(self, n: int) -> None:
            self.n = n

        @impl.cached(impl.LRUCache(10))
        async def find(self, k: int) -> tuple[int, int]:
            return self.n, k

    async def main() -> None:
        a, b = Repo(1), Repo(2)
        assert await a.find(5) == (1, 5) and await b.find(5) == (2, 5) and await a.find(5) == (1, 5)

    asyncio.run(main())


# -- leaks ------------------------------------------------------------------------------

def test_compiled_paths_flat_over_a_million_hits(impl: Any) -> None:
    ops = 1_000_000 if impl.compiled else 100_000
    values = [(i, "v") for i in range(500)]
    engine = impl.CacheAside(impl.LRUCache(1000), lambda k: values[k])
    swr = impl.CacheAside(impl.LRUCache(1000), lambda k: values[k], ttl=600, stale_while_revalidate=60)

    @impl.cached(impl.LRUCache(1000))
    async def amemo(k: int) -> Any:
        return values[k]

    from fastcache.keys import hashkey

    class Repo:                         # a bound method and a weak self token per call
        find = impl.CachedWrapper(lambda self, k: values[k], impl.LRUCache(1000), hashkey, None, None)
    repos = [Repo() for _ in range(4)]

    from fastcache.http import CacheMiddleware
    from fastcache.http import entry as E
    from fastcache.http.asgi import _encode

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"cache-control", b"max-age=600")]})
        await send({"type": "http.response.body", "body": b"x"})
    mw = CacheMiddleware(app, LRUCache(10))
    core = mw.core
    plain = _plain_hits_module(impl).PlainHits(
        core.store.key, core.store.cache.get, core.store.trusted, core.timer, b"x-cache", b"HIT", core.stats,
        core._stats_lock, E.FORMAT, E.Entry, E.variants_of, _encode)
    scope = {"type": "http", "method": "GET", "path": "/p", "query_string": b"", "headers": [(b"host", b"h")]}

    async def run(n: int) -> None:
        if not core.stats.stored:
            async def ignore(message: Any) -> None: ...
            await mw(scope, lambda: None, ignore)
        for j in range(n):
            k = j % 500
            engine.get(k)
            swr.get(k)
            await amemo(k)
            repos[j & 3].find(k)
            assert plain.get(scope)[0] is not None

    asyncio.run(run(2000))
    gc.collect()
    refs = [sys.getrefcount(v) for v in values[:20]]
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    asyncio.run(run(ops // 3))
    gc.collect()
    growth = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    assert growth < 256 * 1024, f"traced memory grew by {growth} bytes"
    assert [sys.getrefcount(v) for v in values[:20]] == refs


# -- the ASGI middleware's common hit -------------------------------------------------------

def _plain_hits_module(impl: Any) -> Any:
    import importlib
    return importlib.import_module("fastcache._core.http_hit" if impl.compiled else "fastcache._py.http_hit")


def test_asgi_plain_hits_decide_as_the_full_path(impl: Any) -> None:
    """Each request goes through the middleware twice - with this implementation's common-hit
    path and with none (the full path) - on two caches filled alike: same responses, same counts."""
    from fastcache.http import CacheMiddleware
    from fastcache.http.asgi import _encode
    from fastcache.http import entry as E
    timer = FakeTimer(1000.0)
    policies = {"/fresh": b"public, max-age=60", "/vary": b"public, max-age=60",
                "/nocache": b"public, no-cache", "/short": b"public, max-age=2"}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"cache-control", policies.get(scope["path"], b"public, max-age=60")), (b"etag", b'"v1"')]
        if scope["path"] == "/vary":
            headers.append((b"vary", b"accept-language"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": scope["path"].encode()})

    def make(plain: bool) -> Any:
        mw = CacheMiddleware(app, LRUCache(100), timer=timer)
        if plain:
            core = mw.core
            mw._plain = _plain_hits_module(impl).PlainHits(
                core.store.key, core.store.cache.get, core.store.trusted, core.timer, b"x-cache", b"HIT",
                core.stats, core._stats_lock, E.FORMAT, E.Entry, E.variants_of, _encode)
        else:
            mw._plain = None
        return mw

    async def call(mw: Any, path: str, extra: list[tuple[bytes, bytes]]) -> list[Any]:
        sent: list[Any] = []

        async def send(message: Any) -> None:
            sent.append(message)

        async def receive() -> Any:
            return {"type": "http.request", "body": b""}
        scope = {"type": "http", "method": "GET", "path": path, "query_string": b"q=1" if path == "/fresh" else b"",
                 "headers": [(b"host", b"h"), (b"accept-language", b"en"), *extra]}
        await mw(scope, receive, send)
        return sent

    requests = [("/fresh", []), ("/fresh", []), ("/vary", []), ("/vary", []), ("/nocache", []), ("/nocache", []),
                ("/short", []), ("/fresh", [(b"cache-control", b"no-cache")]),
                ("/fresh", [(b"if-none-match", b'"v1"')]), ("/fresh", [(b"pragma", b"no-cache")])]

    async def main() -> None:
        plain, full = make(True), make(False)
        for step in range(2):
            for path, extra in requests:
                assert await call(plain, path, extra) == await call(full, path, extra), (step, path, extra)
            timer.tick(5)                       # /short goes stale
        assert plain.stats == full.stats and plain.stats.hits > 0

    asyncio.run(main())
    # a request without a host, and a value the cache did not get from the middleware
    mod = _plain_hits_module(impl)
    hits = mod.PlainHits(lambda h, p, q: h + p, {"hp": ["junk"]}.get, True, timer, b"x-cache", b"HIT",
                         None, None, E.FORMAT, E.Entry, lambda v, k, t: None, _encode)
    from fastcache._py.http_hit import UNREAD        # the compiled module uses the same marker
    assert hits.get({"headers": [], "path": "/"}) == (None, UNREAD)
    assert hits.get({"headers": [(b"host", b"h")], "path": "p"}) == (None, None)
