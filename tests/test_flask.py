"""Flask-Caching on fastcache's backends, in a real Flask app: @cache.cached and
@cache.memoize, invalidation, timeouts, and what a second process sees."""
from __future__ import annotations

import pickle
from typing import Any

import pytest
import redis
from flask import Flask
from flask_caching import Cache

BACKENDS = ["fastcache.flask.LocalCache", "fastcache.flask.RedisCache", "fastcache.flask.TieredCache"]


def make_app(backend: str, redis_url: str, **config: Any) -> tuple[Flask, Cache, dict[str, int]]:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test-secret", CACHE_TYPE=backend, CACHE_REDIS_URL=redis_url,
                      CACHE_DEFAULT_TIMEOUT=60, CACHE_KEY_PREFIX="t:", **config)
    cache = Cache(app)
    calls = {"page": 0, "square": 0}

    @app.route("/page")
    @cache.cached()
    def page() -> str:
        calls["page"] += 1
        return f"page #{calls['page']}"

    @cache.memoize()
    def square(x: int) -> int:
        calls["square"] += 1
        return x * x

    app.square = square  # type: ignore[attr-defined]
    return app, cache, calls


@pytest.mark.parametrize("backend", BACKENDS)
def test_cached_view_and_memoize(backend: str, redis_url: str) -> None:
    app, cache, calls = make_app(backend, redis_url)
    with app.test_client() as client:
        assert client.get("/page").data == b"page #1"
        assert client.get("/page").data == b"page #1"                 # served from the cache
        assert calls["page"] == 1
    with app.app_context():
        assert app.square(4) == 16 and app.square(4) == 16 and calls["square"] == 1
        cache.delete_memoized(app.square, 4)
        assert app.square(4) == 16 and calls["square"] == 2
        assert cache.set("k", {"a": [1, 2]}) and cache.get("k") == {"a": [1, 2]}
        assert cache.add("k", 1) is False and cache.add("new", 1) is True
        assert cache.has("k") and cache.delete("k") and not cache.has("k") and cache.get("k") is None
        assert cache.set_many({"x": 1, "y": 2}) and cache.get_many("x", "y", "z") == [1, 2, None]
        assert cache.get_dict("x", "y") == {"x": 1, "y": 2}
        assert cache.delete_many("x", "y") and cache.get("x") is None
        assert cache.cache.inc("n") == 1 and cache.cache.inc("n", 5) == 6 and cache.cache.dec("n", 2) == 4
        assert cache.set("gone", 1, timeout=-1) and cache.get("gone") is None
        assert cache.set("forever", 1, timeout=0) and cache.get("forever") == 1
        cache.clear()
        assert cache.get("forever") is None


@pytest.mark.parametrize("backend", ["fastcache.flask.RedisCache", "fastcache.flask.TieredCache"])
def test_a_second_process_sees_writes_and_forged_payloads_are_misses(backend: str, redis_url: str,
                                                                      caplog: Any) -> None:
    app1, cache1, _ = make_app(backend, redis_url)
    app2, cache2, _ = make_app(backend, redis_url)
    with app1.app_context():
        cache1.set("shared", "v1")
    with app2.app_context():
        assert cache2.get("shared") == "v1"
    with app1.app_context():
        cache1.set("shared", "v2")
    with app2.app_context():
        from conftest import wait_for
        assert wait_for(lambda: cache2.get("shared") == "v2")        # tiered: its L1 copy was invalidated
    raw = redis.Redis.from_url(redis_url)
    key = next(k for k in raw.keys("fastcache-flask:t:shared"))
    raw.set(key, b"\x80" + pickle.dumps("unsigned"))                 # an unsigned pickle, as an attacker would
    with app1.app_context():
        cache1.cache.cache.invalidate_local("shared") if backend.endswith("TieredCache") else None
        assert cache1.get("shared") is None                          # a miss, never unpickled


def test_redis_backends_need_a_secret_key(redis_url: str) -> None:
    app = Flask(__name__)
    app.config.update(CACHE_TYPE="fastcache.flask.RedisCache", CACHE_REDIS_URL=redis_url)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        Cache(app)


def test_local_cache_policy_and_metrics_name(redis_url: str) -> None:
    import fastcache.metrics as metrics
    app, cache, _ = make_app("fastcache.flask.LocalCache", redis_url, CACHE_THRESHOLD=2,
                             CACHE_OPTIONS={"policy": "lfu", "name": "flask-local"})
    with app.app_context():
        for k in "abc":
            cache.set(k, k)
        assert sum(cache.get(k) is not None for k in "abc") == 2       # maxsize from CACHE_THRESHOLD
    assert type(metrics.registered()["flask-local"]).__name__ == "LFUCache"
    with pytest.raises(ValueError, match="policy"):
        make_app("fastcache.flask.LocalCache", redis_url, CACHE_OPTIONS={"policy": "mru"})


def test_tiered_tracking_option(redis_url: str) -> None:
    """CACHE_OPTIONS {"coherence": "tracking"}: a write made outside Flask reaches the L1."""
    from conftest import wait_for
    app, cache, _ = make_app("fastcache.flask.TieredCache", redis_url, CACHE_OPTIONS={"coherence": "tracking"})
    with app.app_context():
        tiered = cache.cache.cache                                             # the fastcache TieredCache
        assert tiered.coherence.value == "tracking" and tiered.wait_ready(5)
        cache.set("k", "v1")
        assert wait_for(lambda: tiered.stats().invalidations_received > 0)
        assert cache.get("k") == "v1"
        redis.Redis.from_url(redis_url).flushdb()                             # by another client
        assert wait_for(lambda: cache.get("k") is None)
        tiered.close()
