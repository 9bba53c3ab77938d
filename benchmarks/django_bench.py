"""Django: a cache_page view and get/set through fastcache's backends and Django's own.

    python benchmarks/django_bench.py           # also a section of benchmarks/report.py

One run, one local redis-server: the same view, cached with ``cache_page``, is requested
through Django's test client with each backend as the default cache (all hits after the
first request), and ``get``/``set`` of a small dict go through each backend directly.
Figures are medians of five rounds; ratios are to Django's own RedisCache in the same run
(above 1: faster for requests/s, below 1: cheaper for microseconds per call).
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))


def main() -> None:
    import logging
    logging.basicConfig(level=logging.ERROR)       # the server stops at the end: expected warnings
    try:
        import django
        from django.conf import settings
    except ImportError:
        print("(Django figures skipped: pip install django)")
        return
    from redis_servers import RedisServer, find_binary
    binary = find_binary("redis-server")
    if binary is None:
        print("(Django figures skipped: no redis-server)")
        return
    server = RedisServer(str(binary)).start()
    try:
        backends = {
            "fastcache.django.TieredCache": {"BACKEND": "fastcache.django.TieredCache", "LOCATION": server.url},
            "fastcache.django.LocalCache": {"BACKEND": "fastcache.django.LocalCache", "LOCATION": "bench"},
            "fastcache.django.RedisCache": {"BACKEND": "fastcache.django.RedisCache", "LOCATION": server.url},
            "django RedisCache": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                  "LOCATION": server.url},
            "django LocMemCache": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "bench-locmem"},
        }
        settings.configure(SECRET_KEY="bench", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, MIDDLEWARE=[],
                           INSTALLED_APPS=[], CACHES={name: conf for name, conf in
                                                      [("default", backends["django LocMemCache"]),
                                                       *backends.items()]})
        django.setup()
        from django.core.cache import caches
        from django.http import HttpResponse
        from django.test import Client
        from django.urls import path
        from django.views.decorators.cache import cache_page

        views = {}
        for name in backends:
            def view(request: Any, name: str = name) -> HttpResponse:
                return HttpResponse("x" * 2000, content_type="text/plain")
            views[name] = cache_page(60, cache=name)(view)
        global urlpatterns
        urlpatterns = [path(f"v{i}/", v) for i, v in enumerate(views.values())]

        def median(fn: Callable[[], None], n: int) -> float:
            rounds = []
            for _ in range(5):
                t0 = time.perf_counter()
                for _ in range(n):
                    fn()
                rounds.append((time.perf_counter() - t0) / n)
            return statistics.median(rounds)

        client = Client()
        rps, getset = {}, {}
        value = {"id": 42, "name": "Ada", "roles": ["admin", "dev"]}
        for i, name in enumerate(backends):
            url = f"/v{i}/"
            assert client.get(url).status_code == 200          # the miss that stores it
            rps[name] = 1 / median(lambda: client.get(url), 400)
            cache = caches[name]
            cache.set("k", value)
            getset[name] = (median(lambda: cache.get("k"), 2000) * 1e6,
                            median(lambda: cache.set("k", value), 2000) * 1e6)
        base = "django RedisCache"
        print("**Django** (`python benchmarks/django_bench.py`; a `cache_page` view through the test client, "
              "and `get`/`set` of a small dict; ratios to Django's RedisCache in the same run)\n")
        print("| backend | cached view, requests/s | ratio | get µs | ratio | set µs | ratio |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name in backends:
            g, s = getset[name]
            print(f"| {name} | {rps[name]:.0f} | {rps[name] / rps[base]:.2f}× | {g:.1f} | "
                  f"{g / getset[base][0]:.2f}× | {s:.1f} | {s / getset[base][1]:.2f}× |")
        print()
    finally:
        server.stop()


urlpatterns: list[Any] = []

if __name__ == "__main__":
    main()
