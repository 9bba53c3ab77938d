"""The response-caching middlewares behind real servers on loopback (uvicorn for ASGI, the
standard library's threaded WSGI server), driven by a real HTTP client (httpx).

Every test runs against both middlewares.  Time is the injected clock; the
only waits are for other threads (background refreshes, coalesced requests).
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import urllib.parse
from typing import Any, Iterator

import httpx
import pytest

from conftest import FakeTimer, wait_for
from fastcache import LRUCache, TTLCache
from fastcache.http import CacheMiddleware, WSGICacheMiddleware
from http_harness import Origin, serve_asgi, serve_wsgi

KINDS = ["asgi", "wsgi"]


def purge_endpoint_asgi(mw: CacheMiddleware) -> Any:
    """An admin endpoint in front of the middleware: POST /_purge?kind=path&value=/x."""
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/_purge":
            q = dict(urllib.parse.parse_qsl(scope["query_string"].decode()))
            removed = await getattr(mw, {"path": "purge", "prefix": "purge_prefix", "key": "purge_key"}[q["kind"]])(
                q["value"])
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": str(removed).encode()})
            return
        await mw(scope, receive, send)
    return app


def purge_endpoint_wsgi(mw: WSGICacheMiddleware) -> Any:
    def app(environ: Any, start_response: Any) -> Any:
        if environ["PATH_INFO"] == "/_purge":
            q = dict(urllib.parse.parse_qsl(environ["QUERY_STRING"]))
            removed = getattr(mw, {"path": "purge", "prefix": "purge_prefix", "key": "purge_key"}[q["kind"]])(
                q["value"])
            start_response("200 OK", [])
            return [str(removed).encode()]
        return mw(environ, start_response)
    return app


class Site:
    """An origin behind a cache middleware behind a real server, and a client."""

    def __init__(self, kind: str, url: str, mw: Any, origin: Origin, clock: FakeTimer) -> None:
        self.kind, self.url, self.mw, self.origin, self.clock = kind, url, mw, origin, clock
        self.client = httpx.Client(base_url=url, timeout=30)

    def get(self, path: str, **headers: str) -> httpx.Response:
        return self.client.get(path, headers={k.replace("_", "-"): v for k, v in headers.items()})

    def request(self, method: str, path: str, **headers: str) -> httpx.Response:
        return self.client.request(method, path, headers={k.replace("_", "-"): v for k, v in headers.items()})

    def purge(self, kind: str, value: str) -> int:
        r = self.client.post("/_purge", params={"kind": kind, "value": value})
        assert r.status_code == 200, r.text
        return int(r.text)


@contextlib.contextmanager
def site(kind: str, cache: Any = None, **options: Any) -> Iterator[Site]:
    origin = Origin()
    clock = FakeTimer(1_000_000.0)
    cache = LRUCache(1000) if cache is None else cache
    if kind == "asgi":
        mw: Any = CacheMiddleware(origin.asgi, cache, timer=clock, **options)
        server = serve_asgi(purge_endpoint_asgi(mw))
    else:
        mw = WSGICacheMiddleware(origin.wsgi, cache, timer=clock, **options)
        server = serve_wsgi(purge_endpoint_wsgi(mw))
    with server as url:
        s = Site(kind, url, mw, origin, clock)
        try:
            yield s
        finally:
            s.client.close()
            if kind == "wsgi":
                mw.close()


@pytest.fixture(params=KINDS)
def make_site(request: Any) -> Iterator[Any]:
    with contextlib.ExitStack() as stack:
        yield lambda cache=None, **options: stack.enter_context(site(request.param, cache, **options))


@pytest.fixture
def s(make_site: Any) -> Site:
    return make_site()


# -- freshness ------------------------------------------------------------------------

def test_fresh_responses_are_served_from_the_cache_with_age_until_max_age(s: Site) -> None:
    s.origin.route("/a", headers={"cache-control": "max-age=60", "content-type": "text/plain"}, body=b"page")
    first = s.get("/a")
    assert first.status_code == 200 and first.content == b"page#1" and first.headers["x-cache"] == "MISS"
    s.clock.tick(42)
    hit = s.get("/a")
    assert hit.content == b"page#1" and hit.headers["x-cache"] == "HIT" and hit.headers["age"] == "42"
    assert hit.headers["content-type"] == "text/plain" and hit.headers["content-length"] == "6"
    s.clock.tick(18)                                          # age 60: stale
    again = s.get("/a")
    assert again.content == b"page#2" and again.headers["x-cache"] == "MISS"
    assert s.origin.calls["/a"] == 2
    assert s.mw.stats.hits == 1 and s.mw.stats.misses == 2 and s.mw.stats.stored == 2


def test_s_maxage_wins_over_max_age_and_expires_counts_without_either(s: Site) -> None:
    s.origin.route("/s", headers={"cache-control": "max-age=1, s-maxage=100"})
    s.get("/s")
    s.clock.tick(50)
    assert s.get("/s").headers["x-cache"] == "HIT"
    date = "Mon, 01 Jan 2024 00:00:00 GMT"
    s.origin.route("/e", headers={"date": date, "expires": "Mon, 01 Jan 2024 00:00:30 GMT"})
    s.get("/e")
    s.clock.tick(29)
    assert s.get("/e").headers["x-cache"] == "HIT"
    s.clock.tick(1)
    assert s.get("/e").headers["x-cache"] == "MISS"
    s.origin.route("/bad", headers={"expires": "not a date"})   # an invalid Expires is already expired
    s.get("/bad")
    assert s.get("/bad").headers["x-cache"] == "MISS"


@pytest.mark.parametrize("headers", [
    {"cache-control": "private, max-age=60"},
    {"cache-control": "no-store"},
    {"cache-control": "no-cache, no-store, must-revalidate, max-age=0"},
    {},                                                         # no explicit freshness
    {"cache-control": "max-age=60", "set-cookie": "session=abc"},
    {"cache-control": "max-age=60", "vary": "*"},
    {"cache-control": "max-age=60", "vary": "accept, *"},
    {"cache-control": "max-age=abc"},                           # malformed: not stored, still served
    {"cache-control": "public, private, max-age=60"},           # contradictory
])
def test_what_a_shared_cache_must_not_store_reaches_the_app_every_time(s: Site, headers: dict[str, str]) -> None:
    s.origin.route("/p", headers=headers)
    bodies = [s.get("/p") for _ in range(3)]
    assert [r.content for r in bodies] == [b"ok#1", b"ok#2", b"ok#3"]
    assert all(r.headers["x-cache"] == "MISS" for r in bodies)
    assert s.mw.stats.stored == 0
    if "set-cookie" in headers:
        assert bodies[0].headers["set-cookie"] == "session=abc"      # passed through, never replayed


def test_an_authorized_request_is_stored_only_when_the_response_allows_it(s: Site) -> None:
    s.origin.route("/me", headers={"cache-control": "max-age=60"})
    s.get("/me", authorization="Bearer x")
    assert s.get("/me", authorization="Bearer y").content == b"ok#2"
    s.origin.route("/pub", headers={"cache-control": "public, max-age=60"})
    s.get("/pub", authorization="Bearer x")
    r = s.get("/pub", authorization="Bearer y")
    assert r.content == b"ok#1" and r.headers["x-cache"] == "HIT"


def test_vary_keeps_one_variant_per_request_header_value(s: Site) -> None:
    def by_language(req: dict[str, str]) -> Any:
        return 200, {"cache-control": "max-age=60", "vary": "Accept-Language"}, req.get("accept-language", "-").encode()
    s.origin.routes["/v"] = by_language
    assert s.get("/v", accept_language="fr").content == b"fr"
    assert s.get("/v", accept_language="de").content == b"de"
    fr, de = s.get("/v", accept_language="fr"), s.get("/v", accept_language="de")
    assert (fr.content, fr.headers["x-cache"], de.content, de.headers["x-cache"]) == (b"fr", "HIT", b"de", "HIT")
    assert s.get("/v").content == b"-" and s.origin.calls["/v"] == 3


# -- validators ------------------------------------------------------------------------

def test_if_none_match_and_if_modified_since_get_304_from_the_cache(s: Site) -> None:
    lm = "Mon, 01 Jan 2024 00:00:00 GMT"
    s.origin.route("/c", headers={"cache-control": "max-age=60", "etag": '"v1"', "last-modified": lm})
    miss = s.get("/c", if_none_match='"v1"')                    # the app gets no conditional: a full copy to store
    assert miss.status_code == 304 and miss.content == b"" and miss.headers["etag"] == '"v1"'
    assert "if-none-match" not in s.origin.seen[-1][2]
    hit = s.get("/c", if_none_match='W/"v0", W/"v1"')           # weak comparison
    assert hit.status_code == 304 and hit.headers["x-cache"] == "HIT" and hit.headers["cache-control"] == "max-age=60"
    assert s.get("/c", if_none_match='"v2"').status_code == 200
    assert s.get("/c", if_modified_since=lm).status_code == 304
    assert s.get("/c", if_modified_since="Sun, 31 Dec 2023 00:00:00 GMT").status_code == 200
    assert s.get("/c", if_modified_since="garbage").status_code == 200
    assert s.origin.calls["/c"] == 1


def test_the_cache_adds_an_etag_so_clients_can_revalidate(s: Site) -> None:
    s.origin.route("/t", headers={"cache-control": "max-age=60"})
    s.get("/t")
    etag = s.get("/t").headers["etag"]
    assert s.get("/t", if_none_match=etag).status_code == 304


def test_no_cache_responses_are_revalidated_with_the_app_each_time(s: Site) -> None:
    def conditional(req: dict[str, str]) -> Any:
        if req.get("if-none-match") == '"v1"':
            return 304, {"cache-control": "no-cache", "etag": '"v1"'}, b""
        return 200, {"cache-control": "no-cache", "etag": '"v1"'}, b"body-v1"
    s.origin.routes["/n"] = conditional
    assert s.get("/n").content == b"body-v1"
    r = s.get("/n")
    assert r.status_code == 200 and r.content == b"body-v1" and r.headers["x-cache"] == "HIT"
    assert s.origin.seen[-1][2]["if-none-match"] == '"v1"'
    assert s.origin.calls["/n"] == 2 and s.mw.stats.revalidated == 1


def test_request_directives(s: Site) -> None:
    s.origin.route("/r", headers={"cache-control": "max-age=60"})
    assert s.get("/r", cache_control="only-if-cached").status_code == 504
    s.get("/r")
    assert s.get("/r", cache_control="only-if-cached").headers["x-cache"] == "HIT"
    assert s.get("/r", cache_control="no-cache").content == b"ok#2"     # a reload goes to the app
    assert s.get("/r", pragma="no-cache").content == b"ok#3"
    s.clock.tick(30)
    assert s.get("/r", cache_control="max-age=10").content == b"ok#4"
    s.clock.tick(30)
    assert s.get("/r", cache_control="min-fresh=40").content == b"ok#5"
    s.clock.tick(70)                                                     # stale by 10 s
    r = s.get("/r", cache_control="max-stale=20")
    assert r.content == b"ok#5" and r.headers["x-cache"] == "STALE"
    assert s.get("/r", cache_control="max-age=abc").content == b"ok#6"   # malformed: ignored
    assert s.get("/r", cache_control="max-age=" + "9" * 5000).headers["x-cache"] == "HIT"   # too long: ignored


def test_immutable_responses_survive_a_reload_while_fresh(s: Site) -> None:
    s.origin.route("/static/app.js", headers={"cache-control": "public, max-age=31536000, immutable"})
    s.get("/static/app.js")
    assert s.get("/static/app.js", cache_control="no-cache").headers["x-cache"] == "HIT"
    assert s.get("/static/app.js", cache_control="max-age=0").headers["x-cache"] == "HIT"


# -- stale content -----------------------------------------------------------------------

def test_stale_while_revalidate_serves_stale_and_refreshes_once_in_the_background(s: Site) -> None:
    s.origin.route("/swr", headers={"cache-control": "max-age=10, stale-while-revalidate=30"})
    s.get("/swr")
    s.clock.tick(15)
    s.origin.gate.clear()                                   # hold the refresh until every request has been served
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        stale = list(pool.map(lambda _: s.get("/swr"), range(6)))
    assert all(r.content == b"ok#1" and r.headers["x-cache"] == "STALE" for r in stale)
    assert all(r.headers["age"] == "15" for r in stale)
    s.origin.gate.set()
    assert wait_for(lambda: s.origin.calls["/swr"] == 2 and s.mw.stats.stored == 2)
    assert wait_for(lambda: not s.mw._flights)
    fresh = s.get("/swr")
    assert fresh.content == b"ok#2" and fresh.headers["x-cache"] == "HIT"
    assert s.mw.stats.refreshes == 1 and s.origin.calls["/swr"] == 2
    s.clock.tick(45)                                        # past both windows: a plain miss
    assert s.get("/swr").headers["x-cache"] == "MISS"


def test_stale_if_error_covers_errors_and_failures_within_its_window(s: Site) -> None:
    s.origin.route("/sie", headers={"cache-control": "max-age=10, stale-if-error=60"})
    s.get("/sie")
    s.clock.tick(20)
    s.origin.route("/sie", status=503)
    r = s.get("/sie")
    assert (r.status_code, r.content, r.headers["x-cache"]) == (200, b"ok#1", "STALE")

    def boom(req: dict[str, str]) -> Any:
        raise RuntimeError("database down")
    s.origin.routes["/sie"] = boom
    r = s.get("/sie")
    assert (r.status_code, r.content, r.headers["x-cache"]) == (200, b"ok#1", "STALE")
    s.clock.tick(60)                                        # beyond the window: the error goes through
    assert s.get("/sie").status_code == 500
    s.origin.route("/mr", headers={"cache-control": "max-age=10, stale-if-error=60, must-revalidate"})
    s.get("/mr")
    s.clock.tick(20)
    s.origin.route("/mr", status=503)
    assert s.get("/mr").status_code == 503                  # must-revalidate: never stale


# -- single-flight ------------------------------------------------------------------------

def test_concurrent_misses_of_one_url_make_one_call_to_the_app(s: Site) -> None:
    s.origin.route("/hot", headers={"cache-control": "max-age=60"}, body=b"hot")
    s.origin.gate.clear()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(s.get, "/hot") for _ in range(8)]
        assert wait_for(lambda: s.mw.stats.coalesced == 7 and s.origin.calls["/hot"] <= 1, timeout=20)
        s.origin.gate.set()
        responses = [f.result() for f in futures]
    assert s.origin.calls["/hot"] == 1
    assert {r.content for r in responses} == {b"hot#1"}
    assert sorted(r.headers["x-cache"] for r in responses) == ["HIT"] * 7 + ["MISS"]


def test_uncacheable_urls_are_not_serialised_behind_one_another(s: Site) -> None:
    s.origin.route("/private", headers={"cache-control": "private"})
    s.get("/private")                                       # learnt: not stored (hit-for-pass)
    s.origin.gate.clear()
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(s.get, "/private") for _ in range(6)]
        assert wait_for(lambda: len([m for m in s.origin.seen if m[1] == "/private"]) == 7, timeout=20)
        s.origin.gate.set()
        assert all(f.result().headers["x-cache"] == "MISS" for f in futures)
    assert s.mw.stats.coalesced == 0 and s.origin.calls["/private"] == 7


# -- rules, methods, edge cases -------------------------------------------------------------

def test_route_rules_set_the_policy_of_responses_without_one(make_site: Any) -> None:
    s = make_site(rules={"/static/": "static", "/account/": "private", "/api/": "public, max-age=30",
                         "= /api/health": "no-store"})
    for path in ("/static/a.css", "/account/me", "/api/list", "/api/health", "/other"):
        s.origin.route(path)
    assert s.get("/static/a.css").headers["cache-control"] == "public, max-age=31536000, immutable"
    assert s.get("/account/me").headers["cache-control"] == "private, no-cache"
    assert s.get("/api/health").headers["cache-control"] == "no-store"
    for path in ("/static/a.css", "/account/me", "/api/list", "/api/health", "/other"):
        s.get(path)
        s.get(path)
    assert dict(s.origin.calls) == {"/static/a.css": 1, "/account/me": 3, "/api/list": 1, "/api/health": 3,
                                    "/other": 2}
    s.origin.route("/api/own", headers={"cache-control": "no-store"})    # the app's own header wins
    s.get("/api/own")
    assert s.get("/api/own").headers["x-cache"] == "MISS"


def test_head_is_answered_from_a_stored_get_and_unsafe_methods_invalidate(s: Site) -> None:
    s.origin.route("/doc", headers={"cache-control": "max-age=60"})
    s.get("/doc")
    head = s.request("HEAD", "/doc")
    assert head.status_code == 200 and head.content == b"" and head.headers["x-cache"] == "HIT"
    s.origin.route("/doc-failed-write", status=500)
    assert s.request("POST", "/doc").status_code == 200        # a successful write drops the URL
    assert s.get("/doc").content == b"ok#3" and s.mw.stats.invalidated == 1
    s.origin.routes["/doc"] = lambda req: (500, {}, b"no")
    s.request("PUT", "/doc")                                     # a failed write does not
    assert s.get("/doc").headers["x-cache"] == "HIT"


def test_bodies_over_the_limit_stream_through_and_are_not_stored(make_site: Any) -> None:
    s = make_site(max_body_size=1000)
    s.origin.route("/big", headers={"cache-control": "max-age=60"}, body=b"x" * 5000)
    s.origin.route("/small", headers={"cache-control": "max-age=60"}, body=b"x" * 500)
    assert len(s.get("/big").content) == 5002 and s.get("/big").headers["x-cache"] == "MISS"
    s.get("/small")
    assert s.get("/small").headers["x-cache"] == "HIT"


def test_huge_surrogate_key_headers_are_capped_not_fatal(s: Site) -> None:
    keys = " ".join(f"k{i}" for i in range(4000)) + " " + "z" * 2000      # ~23 KB; one key too long
    s.origin.route("/many", headers={"cache-control": "max-age=60", "surrogate-key": keys})
    assert s.get("/many").headers["surrogate-key"] == keys                # the CDN gets it unchanged
    assert s.get("/many").headers["x-cache"] == "HIT"
    assert s.purge("key", "k1") == 1                                     # an early key is a tag
    s.get("/many")
    assert s.purge("key", "k3999") == 0                                  # beyond 16 KB: not a tag


def test_a_malformed_cached_value_is_a_miss_and_a_log_line(caplog: Any, make_site: Any) -> None:
    cache = LRUCache(100)
    s = make_site(cache)
    s.origin.route("/x", headers={"cache-control": "max-age=60"})
    s.get("/x")
    key = next(iter(cache.keys()))
    cache[key] = ["fc-http/1", [["not", "an", "entry"]]]
    with caplog.at_level(logging.WARNING, logger="fastcache.http"):
        assert s.get("/x").headers["x-cache"] == "MISS"
    assert "malformed cached response" in caplog.text


class BrokenCache(dict):  # type: ignore[type-arg]
    """A cache whose every operation fails."""

    def get(self, key: Any, default: Any = None) -> Any:
        raise ConnectionError("cache down")

    def __setitem__(self, key: Any, value: Any) -> None:
        raise ConnectionError("cache down")


def test_a_failing_cache_never_fails_a_request(make_site: Any, caplog: Any) -> None:
    s = make_site(BrokenCache())
    s.origin.route("/y", headers={"cache-control": "max-age=60"})
    with caplog.at_level(logging.WARNING, logger="fastcache.http"):
        assert [s.get("/y").content for _ in range(2)] == [b"ok#1", b"ok#2"]
    assert "cache read failed" in caplog.text and "cache write failed" in caplog.text


# -- surrogate keys and purge -------------------------------------------------------------

def test_purge_by_key_path_and_prefix(s: Site) -> None:
    for path, keys in (("/api/users", "users"), ("/api/users/1", "users user-1"), ("/api/users-admin", "admin"),
                       ("/api/orders", "orders"), ("/apiary", "bees")):
        s.origin.route(path, headers={"cache-control": "max-age=600", "surrogate-key": keys})
    paths = ["/api/users", "/api/users?page=2", "/api/users/1", "/api/users-admin", "/api/orders", "/apiary"]

    def cached() -> set[str]:
        return {p for p in paths if s.get(p, cache_control="only-if-cached").status_code == 200}

    def fill() -> None:
        for p in paths:
            s.get(p)
    fill()
    assert cached() == set(paths)
    assert s.get("/api/users/1").headers["surrogate-key"] == "users user-1"   # emitted for the CDN
    assert s.purge("key", "user-1") == 1
    assert cached() == set(paths) - {"/api/users/1"}
    fill()
    assert s.purge("path", "/api/users") == 2                                  # every query string
    assert cached() == set(paths) - {"/api/users", "/api/users?page=2"}
    fill()
    assert s.purge("prefix", "/api/users") == 3                                # the path and below, not -admin
    assert cached() == {"/api/users-admin", "/api/orders", "/apiary"}
    fill()
    assert s.purge("prefix", "/api/") == 5
    assert cached() == {"/apiary"}
    fill()
    assert s.purge("prefix", "/") == 6


def test_surrogate_path_keys_put_the_directory_keys_on_responses(make_site: Any) -> None:
    s = make_site(surrogate_path_keys=True)
    s.origin.route("/a/b c/d", headers={"cache-control": "max-age=60", "surrogate-key": "mine"})
    keys = s.get("/a/b%20c/d").headers["surrogate-key"].split()
    assert keys == ["mine", "fc-http:path:/a/b%20c/d", "fc-http:prefix:/", "fc-http:prefix:/a/",
                    "fc-http:prefix:/a/b%20c/"]
    assert s.purge("prefix", "/a/b c/") == 1


def test_bad_arguments_are_clear_errors() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass
    with pytest.raises(TypeError, match="cache is required"):
        CacheMiddleware(app, None)
    with pytest.raises(TypeError, match="has no get"):
        CacheMiddleware(app, object())
    with pytest.raises(ValueError, match="max_body_size"):
        CacheMiddleware(app, LRUCache(1), max_body_size=0)
    with pytest.raises(ValueError, match="starts with '/'"):
        CacheMiddleware(app, LRUCache(1), rules={"static/": "static"})
    with pytest.raises(ValueError, match="max-age"):
        CacheMiddleware(app, LRUCache(1), rules={"/x": "max-age=soon"})
    with pytest.raises(TypeError, match="ASGI application"):
        CacheMiddleware(None, LRUCache(1))
    mw = WSGICacheMiddleware(lambda e, s: [], TTLCache(10, 60))
    with pytest.raises(ValueError, match="starts with '/'"):
        mw.purge("relative")
    with pytest.raises(TypeError, match="a path is a str"):
        mw.purge(b"/x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        mw.purge_key("")
    with pytest.raises(TypeError, match="purge_paths"):
        WSGICacheMiddleware(lambda e, s: [], LRUCache(1), cdn=object())
    mw.close()


def test_conditional_requests_get_304_from_uncacheable_responses_too(s: Site) -> None:
    s.origin.route("/mine", headers={"cache-control": "private", "etag": '"e1"'})
    r = s.get("/mine", if_none_match='"e1"')
    assert r.status_code == 304 and r.headers["etag"] == '"e1"' and r.headers["x-cache"] == "MISS"
    assert s.get("/mine", if_none_match='"e0"').status_code == 200
    head = s.request("HEAD", "/mine")
    assert head.status_code == 200 and head.headers["x-cache"] == "MISS" and s.mw.stats.stored == 0


def test_a_request_that_refuses_storage_does_not_mark_the_url_uncacheable(s: Site) -> None:
    s.origin.route("/u", headers={"cache-control": "max-age=60"})
    s.get("/u", cache_control="no-store")
    s.request("HEAD", "/u")
    s.get("/u", authorization="Bearer t")
    assert s.mw.core.should_coalesce(s.mw.core.store.key(s.url[7:], "/u", ""))
    assert s.mw.stats.stored == 0
    s.get("/u")
    assert s.get("/u").headers["x-cache"] == "HIT"


def test_a_huge_request_header_in_vary_is_stored_and_matched(s: Site) -> None:
    s.origin.route("/big-vary", headers={"cache-control": "max-age=60", "vary": "x-big"})
    big, other = "a" * 12_000, "b" * 12_000
    assert s.get("/big-vary", x_big=big).headers["x-cache"] == "MISS"
    assert s.get("/big-vary", x_big=big).headers["x-cache"] == "HIT"
    assert s.get("/big-vary", x_big=other).headers["x-cache"] == "MISS"
    assert s.origin.calls["/big-vary"] == 2
