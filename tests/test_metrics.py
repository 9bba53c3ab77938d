"""fastcache.metrics with the real client libraries: prometheus_client's exposition output
and the OpenTelemetry SDK's in-memory reader, for every kind of cache that has stats()."""
from __future__ import annotations

import gc
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import fastcache.metrics as metrics
from conftest import FakeTimer
from fastcache import LRUCache, TieredCache, TTLCache
from fastcache.http import WSGICacheMiddleware
from fastcache.patterns import CacheAside, WriteBehind
from fastcache.redis import RedisCache


@pytest.fixture(autouse=True)
def clean_registry() -> Any:
    for name in list(metrics.registered()):
        metrics.unregister(name)
    yield
    for name in list(metrics.registered()):
        metrics.unregister(name)


def scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} from the text exposition format."""
    text = generate_latest(registry).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def test_l1_cache_in_the_prometheus_exposition() -> None:
    timer = FakeTimer()
    users = metrics.register(LRUCache(2, timer=timer), name="users")
    users["a"] = 1
    users.set("b", 2, ttl=1)
    users.get("a")
    users.get("zzz")
    timer.tick(1)
    len(users)                                            # b expires
    users["c"] = 3
    users["d"] = 4                                        # evicts one for room
    registry = CollectorRegistry()
    metrics.PrometheusCollector(registry=registry)
    got = scrape(registry)
    assert got[key("fastcache_hits_total", cache="users", tier="l1")] == 1
    assert got[key("fastcache_misses_total", cache="users", tier="l1")] == 1
    assert got[key("fastcache_evictions_total", cache="users", tier="l1", cause="expired")] == 1
    assert got[key("fastcache_evictions_total", cache="users", tier="l1", cause="size")] == 1
    assert got[key("fastcache_items", cache="users", tier="l1")] == 2
    assert got[key("fastcache_weight", cache="users", tier="l1")] == 2
    assert got[key("fastcache_max_weight", cache="users", tier="l1")] == 2
    users.get("c")
    assert scrape(registry)[key("fastcache_hits_total", cache="users", tier="l1")] == 2   # read at scrape time


def test_a_cache_that_is_gone_is_no_longer_exported() -> None:
    metrics.register(LRUCache(10), name="temp")
    gc.collect()
    registry = CollectorRegistry()
    metrics.PrometheusCollector(registry=registry)
    assert not any(labels and dict(labels).get("cache") == "temp" for _, labels in scrape(registry))
    assert "temp" not in metrics.registered()


def test_tiered_cache_and_patterns(redis_url: str) -> None:
    tc = metrics.register(TieredCache(LRUCache(100), RedisCache(redis_url, prefix="mx:")), name="tiered")
    other = TieredCache(LRUCache(100), RedisCache(redis_url, prefix="mx:"))
    try:
        assert tc.wait_ready() and other.wait_ready()
        tc.set("k", 1)
        other.invalidate_local("k")
        assert other.get("k") == 1                        # an L2 hit for the other one
        tc.get("k")                                       # an L1 hit
        tc.get("nope")
        aside = metrics.register(CacheAside(TTLCache(10, ttl=60), str.upper), name="aside")
        aside.get("x")
        aside.get("x")
        store: dict[str, Any] = {}
        wb = metrics.register(WriteBehind(LRUCache(10), store.update, max_delay=0), name="wb")
        wb.set("a", 1)
        assert wb.flush(timeout=5)

        def app(environ: Any, start_response: Any) -> Any:
            start_response("200 OK", [("cache-control", "max-age=60")])
            return [b"x"]
        mw = metrics.register(WSGICacheMiddleware(app, LRUCache(10)), name="http")
        import io
        env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "", "SERVER_NAME": "t",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b"")}
        for _ in range(2):
            b"".join(mw(dict(env), lambda s, h, exc_info=None: None))

        registry = CollectorRegistry()
        metrics.PrometheusCollector(registry=registry)
        got = scrape(registry)
        assert got[key("fastcache_hits_total", cache="tiered", tier="l1")] == 1
        assert got[key("fastcache_misses_total", cache="tiered", tier="l2")] == 1
        assert got[key("fastcache_errors_total", cache="tiered", tier="l2")] == 0
        assert got[key("fastcache_breaker_state", cache="tiered", tier="l2", state="closed")] == 1
        assert got[key("fastcache_breaker_state", cache="tiered", tier="l2", state="open")] == 0
        assert got[key("fastcache_invalidations_sent_total", cache="tiered", tier="l1")] == 1
        assert got[key("fastcache_loads_total", cache="aside", tier="l1")] == 1
        assert got[key("fastcache_hits_total", cache="aside", tier="l1")] == 1
        assert got[key("fastcache_write_behind_written_total", cache="wb", tier="l1")] == 1
        assert got[key("fastcache_write_behind_pending", cache="wb", tier="l1")] == 0
        assert got[key("fastcache_http_responses_total", cache="http", tier="l1", result="miss")] == 1
        assert got[key("fastcache_http_responses_total", cache="http", tier="l1", result="hit")] == 1
        wb.close()
    finally:
        for c in (tc, other):
            c.close()
            c.l2.close()


def test_opentelemetry_observable_instruments() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    cache = metrics.register(LRUCache(10), name="otel")
    cache["a"] = 1
    cache.get("a")
    cache.get("b")
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    metrics.instrument(provider.get_meter("fastcache-test"))

    def points() -> dict[tuple[str, tuple[tuple[str, Any], ...]], float]:
        out = {}
        for rm in reader.get_metrics_data().resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    for p in m.data.data_points:
                        out[(m.name, tuple(sorted(p.attributes.items())))] = p.value
        return out
    got = points()
    assert got[key("fastcache.hits", cache="otel", tier="l1")] == 1
    assert got[key("fastcache.misses", cache="otel", tier="l1")] == 1
    assert got[key("fastcache.items", cache="otel", tier="l1")] == 1
    cache.get("a")
    assert points()[key("fastcache.hits", cache="otel", tier="l1")] == 2
    provider.shutdown()


def test_register_checks_its_arguments() -> None:
    with pytest.raises(ValueError):
        metrics.register(LRUCache(1), name="")
    with pytest.raises(TypeError, match="stats"):
        metrics.register({}, name="dict")
    with pytest.raises(KeyError):
        metrics.unregister("never")
    a, b = LRUCache(1), LRUCache(1)
    metrics.register(a, name="same")
    metrics.register(b, name="same")                      # a later cache takes the name
    assert metrics.registered()["same"] is b
