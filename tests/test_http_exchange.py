"""The HTTP exchange's decisions without a server (sans I/O): what a request does with what is
stored, what a response means, which URLs an unsafe request invalidates.  The ASGI and WSGI
middlewares only carry these decisions out (tests/test_http.py runs both)."""
from __future__ import annotations

import pytest

from conftest import FakeTimer
from fastcache import LRUCache
from fastcache.http import CacheControl
from fastcache.http import entry as E
from fastcache.http.core import (Forward, HTTPCacheCore, Judgement, Label, NotStored, Reject, Revalidated, Serve,
                                 ServeStale)


@pytest.fixture
def core():
    return HTTPCacheCore(LRUCache(100), timer=FakeTimer(1000.0))


def request(core, path="/p", method="GET", **headers):
    return core.request(method, "example.org", path, "", {k.replace("_", "-"): v for k, v in headers.items()})


def stored(core, cc, status=200, etag='"v1"', now=1000.0, **extra):
    header_map = {"cache-control": str(cc), **({"etag": etag} if etag else {}), **extra}
    headers = [[k, v] for k, v in header_map.items()]
    return E.new_entry(status, headers, b"body", now, cc, E.lifetime_of(cc, header_map, now), header_map, [], [],
                       add_etag=False)


def test_fresh_stale_while_revalidate_and_revalidate(core):
    entry = stored(core, CacheControl(max_age=10, stale_while_revalidate=30))
    step = core.lookup(request(core), [entry])
    assert isinstance(step, Serve) and step.label is Label.HIT and step.refresh is None
    core.timer.tick(15)
    step = core.lookup(request(core), [entry])
    assert isinstance(step, Serve) and step.label is Label.STALE
    assert isinstance(step.refresh, Forward) and step.refresh.revalidating is entry     # refreshed with its ETag
    core.timer.tick(100)
    step = core.lookup(request(core), [entry])
    assert isinstance(step, Forward) and step.stale is entry and step.revalidating is entry and step.coalesce
    assert core.stats.hits == 1 and core.stats.stale == 1


def test_nothing_stored_only_if_cached_and_head(core):
    assert isinstance(core.lookup(request(core), None), Forward)
    step = core.lookup(request(core, cache_control="only-if-cached"), None)
    assert isinstance(step, Reject) and step.status == 504
    head = core.lookup(request(core, method="HEAD"), None)
    assert isinstance(head, Forward) and not head.coalesce           # HEAD: nobody waits for it


def test_a_stale_entry_without_validators_is_fetched_unconditionally(core):
    entry = stored(core, CacheControl(max_age=1), etag=None)
    core.timer.tick(5)
    step = core.lookup(request(core), [entry])
    assert isinstance(step, Forward) and step.stale is entry and step.revalidating is None
    assert core.upstream_headers(request(core, if_none_match='"x"'), None) == []      # the client's conditionals go


def test_a_304_revalidates_and_a_5xx_serves_stale_if_error(core):
    entry = stored(core, CacheControl(max_age=10, stale_if_error=60))
    core.timer.tick(20)
    forward = core.lookup(request(core), [entry])
    assert ("if-none-match", '"v1"') in core.upstream_headers(request(core), forward.revalidating)
    step = core.responded(request(core), forward, 304, [["cache-control", "max-age=30"]])
    assert isinstance(step, Revalidated) and step.updated and step.entry.lifetime == 30
    assert step.entry.stored == core.timer() and core.stats.revalidated == 1
    step = core.responded(request(core), forward, 503, [])
    assert isinstance(step, ServeStale) and step.entry is entry and core.stats.stale == 1
    assert core.failed(request(core), forward).entry is entry and core.stats.stale == 2
    core.timer.tick(100)                                           # past the stale-if-error window
    assert core.failed(request(core), forward) is None
    assert isinstance(core.responded(request(core), forward, 503, []), Judgement)


@pytest.mark.parametrize("headers, method, reason, marks_pass", [
    ([["cache-control", "max-age=60"]], "GET", None, False),
    ([["cache-control", "private"]], "GET", NotStored.PRIVATE, True),
    ([["cache-control", "no-store"]], "GET", NotStored.NO_STORE, True),
    ([["cache-control", "max-age=60"], ["set-cookie", "a=b"]], "GET", NotStored.SET_COOKIE, True),
    ([["cache-control", "max-age=60"], ["vary", "*"]], "GET", NotStored.VARY_STAR, True),
    ([], "GET", NotStored.NO_FRESHNESS, True),
    ([["cache-control", "max-age=60"]], "HEAD", NotStored.NOT_GET, False),     # this request, not the URL
])
def test_judgements_are_enums_and_decide_hit_for_pass(core, headers, method, reason, marks_pass):
    req = request(core, method=method)
    j = core.responded(req, core.forward(req, None), 200, headers)
    assert isinstance(j, Judgement) and j.reason is reason and j.store is (reason is None)
    assert core.should_coalesce(req.key) is not marks_pass
    assert [h for h in j.headers if h[0] == "x-cache"] == [["x-cache", Label.MISS.value]]


def test_an_authorized_request_is_not_stored_and_does_not_mark_the_url(core):
    req = request(core, authorization="Bearer x")
    j = core.responded(req, core.forward(req, None), 200, [["cache-control", "max-age=60"]])
    assert j.reason is NotStored.AUTHORIZED_REQUEST and j.this_request and core.should_coalesce(req.key)
    ok = core.responded(req, core.forward(req, None), 200, [["cache-control", "public, max-age=60"]])
    assert ok.store


def test_a_coalesced_waiter_takes_only_a_fresh_matching_entry(core):
    fresh = stored(core, CacheControl(max_age=10))
    assert core.coalesced_hit(request(core), fresh) and core.stats.hits == 1
    assert not core.coalesced_hit(request(core), None)
    assert not core.coalesced_hit(request(core, cache_control="no-cache"), fresh)
    other = fresh._replace(vary=["accept-language"], vary_values=["fr"])
    assert not core.coalesced_hit(request(core, accept_language="en"), other)


def test_unsafe_requests_invalidate_their_url_and_same_host_locations(core):
    req = request(core, path="/items", method="POST")
    keys = core.invalidation_targets(req, 201, [("Location", "/items/7?x=1"), ("content-location", "/c"),
                                                ("location", "https://elsewhere/a")])
    assert keys == [req.key, core.store.key("example.org", "/items/7", "x=1"), core.store.key("example.org", "/c", "")]
    assert core.invalidation_targets(req, 500, [("location", "/x")]) == []
    assert core.stats.invalidated == 1


def test_serving_labels_and_conditional_requests(core):
    entry = stored(core, CacheControl(max_age=10))
    status, headers, body = core.serve(request(core), entry, Label.HIT, core.timer())
    assert status == 200 and body == b"body" and ["x-cache", "HIT"] in headers and ["age", "0"] in headers
    status, headers, body = core.serve(request(core, if_none_match='"v1"'), entry, Label.STALE, core.timer())
    assert status == 304 and body == b"" and ["x-cache", "STALE"] in headers
