"""fastcache's Django cache backends on real Django and real Redis: the behaviour Django's
own cache tests check (sync and async API), and what Django builds on a cache
(cache_page, the cache middleware, {% cache %}, the cache session engine)."""
from __future__ import annotations

import asyncio
import pickle
import threading
import time
import warnings
from typing import Any

import django
import pytest
import redis
from django.conf import settings

if not settings.configured:
    settings.configure(
        SECRET_KEY="django-test-secret", SECRET_KEY_FALLBACKS=["an-older-secret"], DEBUG=False,
        ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, USE_TZ=True,
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        CACHES={"default": {"BACKEND": "fastcache.django.LocalCache", "LOCATION": "boot"}},
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": False,
                    "OPTIONS": {"builtins": ["django.templatetags.cache"]}}],
        SESSION_ENGINE="django.contrib.sessions.backends.cache",
        MIDDLEWARE=[])
    django.setup()

from django.core.cache import CacheKeyWarning, caches  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.cache import cache_page  # noqa: E402

calls = {"view": 0}


@cache_page(60)
def cached_view(request: Any) -> HttpResponse:
    calls["view"] += 1
    return HttpResponse(f"view #{calls['view']}")


def plain_view(request: Any) -> HttpResponse:
    calls["view"] += 1
    return HttpResponse(f"plain #{calls['view']}")


def session_view(request: Any) -> HttpResponse:
    request.session["n"] = request.session.get("n", 0) + 1
    return HttpResponse(str(request.session["n"]))


urlpatterns = [path("cached/", cached_view), path("plain/", plain_view), path("session/", session_view)]

KINDS = ["LocalCache", "RedisCache", "TieredCache"]


@pytest.fixture(params=KINDS)
def kind(request: Any) -> str:
    return str(request.param)


@pytest.fixture
def caches_for(kind: str, redis_url: str) -> Any:
    location = f"loc-{time.monotonic_ns()}" if kind == "LocalCache" else redis_url
    conf = {"default": {"BACKEND": f"fastcache.django.{kind}", "LOCATION": location, "TIMEOUT": 60,
                        "OPTIONS": {"MAX_ENTRIES": 1000}},
            "prefixed": {"BACKEND": f"fastcache.django.{kind}", "LOCATION": location, "KEY_PREFIX": "p",
                         "OPTIONS": {"MAX_ENTRIES": 1000}},
            "v2": {"BACKEND": f"fastcache.django.{kind}", "LOCATION": location, "VERSION": 2,
                   "OPTIONS": {"MAX_ENTRIES": 1000}},
            "custom_key": {"BACKEND": f"fastcache.django.{kind}", "LOCATION": location,
                           "KEY_FUNCTION": lambda key, prefix, version: f"CUSTOM-{key}",
                           "OPTIONS": {"MAX_ENTRIES": 1000}}}
    with override_settings(CACHES=conf):
        caches["default"].clear()
        yield caches
        for alias in conf:
            caches[alias].clear()


def test_basic_api(caches_for: Any) -> None:
    cache = caches_for["default"]
    assert cache.get("missing") is None and cache.get("missing", "d") == "d"
    cache.set("k", "v")
    assert cache.get("k") == "v" and cache.has_key("k") and "k" in cache
    assert cache.add("k", "other") is False and cache.get("k") == "v"
    assert cache.add("new", "fresh") is True and cache.get("new") == "fresh"
    assert cache.delete("k") is True and cache.delete("k") is False and cache.get("k") is None
    cache.set("none", None)
    assert cache.get("none", "default") is None and cache.has_key("none")      # None is a value
    values = {"str": "ü ≠", "bytes": b"\x00\xff", "int": 42, "neg": -7, "float": 1.5, "list": [1, [2]],
              "dict": {"a": (1, 2)}, "set": {1, 2}, "big": "x" * 100_000, "bool": True}
    for k, v in values.items():
        cache.set(k, v)
        assert cache.get(k) == v and type(cache.get(k)) is type(v)
    assert cache.get_many(["str", "int", "nope"]) == {"str": "ü ≠", "int": 42}
    assert cache.set_many({"a": 1, "b": 2}) == []
    assert cache.get_many(["a", "b"]) == {"a": 1, "b": 2}
    cache.delete_many(["a", "b"])
    assert cache.get_many(["a", "b"]) == {}
    mutable = [1, 2]
    cache.set("m", mutable)
    mutable.append(3)
    got = cache.get("m")
    got.append(4)
    assert cache.get("m") == [1, 2]                                # copies in and out, as Django's backends
    cache.clear()
    assert cache.get("str") is None


def test_timeouts(caches_for: Any) -> None:
    cache = caches_for["default"]
    cache.set("zero", "v", 0)
    assert cache.get("zero") is None
    cache.set("neg", "v", -1)
    assert cache.get("neg") is None
    assert cache.add("zero-add", "v", 0) is True and cache.get("zero-add") is None
    cache.set_many({"z1": 1, "z2": 2}, 0)
    assert cache.get_many(["z1", "z2"]) == {}
    cache.set("forever", "v", None)
    cache.set("short", "v", 30)
    assert cache.get("forever") == "v" and cache.get("short") == "v"
    assert cache.touch("short", None) is True and cache.get("short") == "v"
    assert cache.touch("short", 100) is True
    assert cache.touch("missing", 10) is False
    assert cache.touch("short", 0) is True and cache.get("short") is None


def test_redis_timeouts_reach_redis(caches_for: Any, kind: str, redis_url: str) -> None:
    if kind == "LocalCache":
        cache = caches_for["default"]
        cache.set("t", 1, 30)
        expires = cache._cache.expires_at(cache.make_key("t"))
        assert 29 < expires - cache._cache.timer() <= 30
        return
    cache = caches_for["default"]
    raw = redis.Redis.from_url(redis_url)
    cache.set("t", 1, 30)
    assert 29_000 < raw.pttl(b"django:" + cache.make_key("t").encode()) <= 30_000
    cache.set("p", 1, None)
    assert raw.pttl(b"django:" + cache.make_key("p").encode()) == -1
    cache.touch("p", 5)
    assert 0 < raw.pttl(b"django:" + cache.make_key("p").encode()) <= 5000


def test_incr_decr(caches_for: Any) -> None:
    cache = caches_for["default"]
    cache.set("n", 1)
    assert cache.incr("n") == 2 and cache.incr("n", 10) == 12 and cache.decr("n", 5) == 7
    assert cache.get("n") == 7
    with pytest.raises(ValueError):
        cache.incr("missing")
    with pytest.raises(ValueError):
        cache.decr("missing")


def test_incr_is_atomic_across_threads(caches_for: Any) -> None:
    cache = caches_for["default"]
    cache.set("counter", 0)

    def bump() -> None:
        for _ in range(200):
            cache.incr("counter")
    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.get("counter") == 800


def test_versions_prefixes_and_key_functions(caches_for: Any) -> None:
    default, v2, prefixed, custom = (caches_for[a] for a in ("default", "v2", "prefixed", "custom_key"))
    default.set("k", "v1")
    v2.set("k", "v2")
    assert default.get("k") == "v1" and v2.get("k") == "v2"
    assert default.get("k", version=2) == "v2" and v2.get("k", version=1) == "v1"
    assert default.incr_version("k") == 2 and default.get("k") is None and default.get("k", version=2) == "v1"
    assert default.decr_version("k", version=2) == 1 and default.get("k") == "v1"
    prefixed.set("k", "p")
    assert default.get("k") == "v1" and prefixed.get("k") == "p"
    custom.set("k", "c")
    assert custom.get("k") == "c" and default.get("k") == "v1"


def test_key_validation_warns(caches_for: Any) -> None:
    cache = caches_for["default"]
    for bad in ("a" * 251, "with space", "ctrl\x01"):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            cache.set(bad, 1)
            assert cache.get(bad) == 1
        assert any(issubclass(x.category, CacheKeyWarning) for x in w), bad


def test_get_or_set_runs_the_callable_once_across_threads(caches_for: Any) -> None:
    cache = caches_for["default"]
    made = []
    gate = threading.Event()

    def slow() -> str:
        made.append(1)
        gate.wait(2)
        return "value"
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_set("gos", slow))) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    gate.set()
    for t in threads:
        t.join()
    assert results == ["value"] * 8 and len(made) == 1
    assert cache.get_or_set("gos", "other") == "value"
    assert cache.get_or_set("plain", "default") == "default" and cache.get("plain") == "default"
    # Django gives each thread its own backend instance: the flight is the process's.
    made.clear()
    gate.clear()
    per_thread: list[Any] = []
    threads = [threading.Thread(target=lambda: per_thread.append(caches_for["default"].get_or_set("gos2", slow)))
               for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    gate.set()
    for t in threads:
        t.join()
    assert per_thread == ["value"] * 4 and len(made) == 1


def test_async_api(caches_for: Any) -> None:
    cache = caches_for["default"]

    async def main() -> None:
        await cache.aset("a", 1)
        assert await cache.aget("a") == 1 and await cache.ahas_key("a")
        assert await cache.aadd("a", 2) is False
        assert await cache.aincr("a") == 2
        await cache.aset_many({"b": 2, "c": 3})
        assert await cache.aget_many(["b", "c"]) == {"b": 2, "c": 3}
        assert await cache.atouch("b", 30) is True
        assert await cache.adelete("a") is True
        await cache.adelete_many(["b", "c"])
        assert await cache.aget_or_set("d", lambda: 4) == 4
        await cache.aclear()
        assert await cache.aget("d") is None
    asyncio.run(main())


def test_cache_page_middleware_fragments_and_sessions(caches_for: Any) -> None:
    client = Client()
    calls["view"] = 0
    first = client.get("/cached/")
    assert first.content == b"view #1" and client.get("/cached/").content == b"view #1"      # cache_page
    from django.template import engines
    template = engines["django"].from_string("{% cache 60 frag who %}{{ n }}{% endcache %}")
    assert template.render({"n": 1, "who": "a"}) == "1" and template.render({"n": 2, "who": "a"}) == "1"
    assert template.render({"n": 3, "who": "b"}) == "3"
    with override_settings(MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware"]):
        sessions = Client()
        assert [sessions.get("/session/").content for _ in range(3)] == [b"1", b"2", b"3"]   # cache sessions
    with override_settings(MIDDLEWARE=["django.middleware.cache.UpdateCacheMiddleware",
                                       "django.middleware.cache.FetchFromCacheMiddleware"],
                           CACHE_MIDDLEWARE_SECONDS=60):
        calls["view"] = 0
        assert Client().get("/plain/").content == b"plain #1"
        assert Client().get("/plain/").content == b"plain #1"                              # the site-wide cache


def test_other_processes_see_writes_and_forged_payloads_are_misses(kind: str, redis_url: str) -> None:
    if kind == "LocalCache":
        return                               # one process's memory: nothing to share
    from fastcache.django import RedisCache, TieredCache
    cls = {"RedisCache": RedisCache, "TieredCache": TieredCache}[kind]
    a, b = cls(redis_url, {}), cls(redis_url, {})
    a.set("shared", "v1")
    assert b.get("shared") == "v1"
    a.set("shared", "v2")
    from conftest import wait_for
    assert wait_for(lambda: b.get("shared") == "v2")                   # tiered: b's L1 copy invalidated
    b.incr("n") if b.get("n") is not None else a.set("n", 1)
    assert a.incr("n") == 2 and wait_for(lambda: b.get("n") == 2)
    raw = redis.Redis.from_url(redis_url)
    raw.set(b"django:" + a.make_key("forged").encode(), pickle.dumps({"evil": True}))   # not signed
    assert a.get("forged", "miss") == "miss"


def test_local_cache_location_is_shared_and_policy_chosen() -> None:
    from fastcache.django import LocalCache
    one = LocalCache("shared-loc", {"OPTIONS": {"POLICY": "lfu", "MAX_ENTRIES": 2}})
    two = LocalCache("shared-loc", {"OPTIONS": {"POLICY": "lfu", "MAX_ENTRIES": 2}})
    one.set("a", 1)
    assert two.get("a") == 1 and type(one._cache).__name__ == "LFUCache"
    for k in "bcd":
        one.set(k, k)
    assert len(one._cache) == 2                                        # MAX_ENTRIES is maxsize
    with pytest.raises(ValueError, match="POLICY"):
        LocalCache("other-loc", {"OPTIONS": {"POLICY": "mru"}})


def test_redis_extras_tags_and_lock(kind: str, caches_for: Any) -> None:
    if kind == "LocalCache":
        assert not hasattr(caches_for["default"], "lock")
        return
    cache = caches_for["default"]
    cache.set_tagged("p1", {"n": 1}, tags=["cat:7"])
    cache.set_tagged("p2", {"n": 2}, tags=["cat:7", "brand:1"])
    cache.set("p3", 3)
    assert cache.invalidate_tag("cat:7") == 2
    assert cache.get("p1") is None and cache.get("p2") is None and cache.get("p3") == 3
    order: list[str] = []

    def worker(name: str) -> None:
        with cache.lock("job", timeout=5):
            order.append(name + "-in")
            time.sleep(0.05)
            order.append(name + "-out")
    threads = [threading.Thread(target=worker, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert order[0][0] == order[1][0] and order[2][0] == order[3][0]     # one holder at a time


def test_backends_register_under_their_alias(redis_url: str) -> None:
    import fastcache.metrics as metrics
    conf = {"default": {"BACKEND": "fastcache.django.LocalCache", "LOCATION": "alias-test"},
            "users": {"BACKEND": "fastcache.django.TieredCache", "LOCATION": redis_url}}
    with override_settings(CACHES=conf):
        caches["users"].set("k", 1)
        caches["default"].set("k", 1)
        names = metrics.registered()
        assert type(names["users"]).__name__ == "TieredCache"
        assert names["default"] is caches["default"]._cache
        caches["users"]._cache.close()


class Unpicklable:
    def __getstate__(self) -> Any:
        raise pickle.PickleError("no")


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


def test_more_of_djangos_cache_behaviour(caches_for: Any) -> None:
    cache = caches_for["default"]
    cache.set("long", "v", 60 * 60 * 24 * 31)                   # over 30 days: still a relative timeout
    cache.set("forever", "v", None)
    assert cache.get("long") == "v" and cache.get("forever") == "v"
    cache.set("obj", Point(1, 2))
    assert cache.get("obj") == Point(1, 2) and cache.get("obj") is not cache.get("obj")
    cache.set_many({"a": 1, "b": 2}, version=3)
    assert cache.get_many(["a", "b"], version=3) == {"a": 1, "b": 2} and cache.get_many(["a", "b"]) == {}
    cache.delete_many([])                                       # no keys: no error
    assert cache.get_many([]) == {}
    with pytest.raises(pickle.PickleError):
        cache.set("bad", Unpicklable())
    with pytest.raises(pickle.PickleError):
        cache.add("bad", Unpicklable())
    assert cache.get("bad") is None
    cache.close()                                               # Django calls it after each request
    assert cache.get("long") == "v"                             # and the cache still works after it


def test_sharded_ring_and_cluster_locations(redis_binary: str, redis_cluster: Any) -> None:
    from fastcache.django import RedisCache, TieredCache
    from redis_servers import RedisServer
    servers = [RedisServer(redis_binary).start() for _ in range(2)]
    try:
        ring = RedisCache([s.url for s in servers], {})
        keys = [f"k{i}" for i in range(40)]
        ring.set_many({k: i for i, k in enumerate(keys)})
        assert ring.get_many(keys) == {k: i for i, k in enumerate(keys)}
        assert all(redis.Redis(port=s.port).dbsize() > 0 for s in servers)     # spread over both
        assert ring.incr("k1", 5) == 6
        tiered = TieredCache(",".join(s.url for s in servers), {})
        assert tiered.get("k2") == 2
        tiered._cache.close()
    finally:
        for s in servers:
            s.stop()
    cluster = RedisCache(redis_cluster.url, {"OPTIONS": {"cluster": True}})
    cluster.set("c", {"v": 1})
    cluster.set("n", 1)
    assert cluster.get("c") == {"v": 1} and cluster.incr("n") == 2 and cluster.delete("c")


def test_secret_rotation_keeps_old_values_readable(redis_url: str) -> None:
    from fastcache.django import RedisCache
    with override_settings(SECRET_KEY="old-secret-1234", SECRET_KEY_FALLBACKS=[]):
        RedisCache(redis_url, {}).set("rotated", {"v": 1})
    with override_settings(SECRET_KEY="new-secret-5678", SECRET_KEY_FALLBACKS=["old-secret-1234"]):
        assert RedisCache(redis_url, {}).get("rotated") == {"v": 1}       # verified with the fallback
    with override_settings(SECRET_KEY="new-secret-5678", SECRET_KEY_FALLBACKS=[]):
        assert RedisCache(redis_url, {}).get("rotated", "miss") == "miss"   # no longer trusted


def test_tiered_tracking_sees_writes_by_any_client(redis_url: str) -> None:
    """OPTIONS COHERENCE "tracking": a write made outside Django reaches the L1."""
    from conftest import wait_for
    from fastcache.django import TieredCache
    cache = TieredCache(redis_url, {"OPTIONS": {"COHERENCE": "tracking"}})
    assert cache._cache.coherence.value == "tracking" and cache._cache.wait_ready(5)
    cache.set("t", 1)
    raw = redis.Redis.from_url(redis_url)
    rkey = b"django:" + cache.make_key("t").encode()
    assert wait_for(lambda: cache._cache.stats().invalidations_received > 0)   # its own write's report
    assert cache.get("t") == 1
    raw.delete(rkey)                                                          # by another client
    assert wait_for(lambda: cache.get("t", "gone") == "gone")
    cache._cache.close()
