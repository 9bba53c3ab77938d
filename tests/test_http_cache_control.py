"""CacheControl parsing and building, route rules, and the pure decisions of the HTTP cache."""
from __future__ import annotations

import logging
from typing import Any

import pytest

from fastcache.http import NO_STORE, PRESETS, PRIVATE, SHARED_DYNAMIC, STATIC_ASSETS, CacheControl, RouteRules
from fastcache.http import entry as E
from fastcache.http.store import MAX_PREFIX_DEPTH, path_tag, prefix_purge_tags, prefix_tags


def test_every_directive_parses_and_builds_back() -> None:
    header = ("public, no-cache, no-store, max-age=60, s-maxage=120, must-revalidate, proxy-revalidate, "
              "immutable, stale-while-revalidate=30, stale-if-error=600, no-transform, must-understand")
    cc = CacheControl.parse(header)
    assert (cc.public, cc.no_cache, cc.no_store, cc.max_age, cc.s_maxage, cc.must_revalidate, cc.proxy_revalidate,
            cc.immutable, cc.stale_while_revalidate, cc.stale_if_error, cc.no_transform, cc.must_understand) == (
        True, True, True, 60, 120, True, True, True, 30, 600, True, True)
    assert str(cc) == header
    assert CacheControl.parse(str(cc)) == cc
    req = CacheControl.parse("max-stale, min-fresh=5, only-if-cached")
    assert (req.max_stale, req.min_fresh, req.only_if_cached) == (True, 5, True)
    assert CacheControl.parse("max-stale=10").max_stale == 10


def test_parsing_is_lenient_where_the_rfc_says_so() -> None:
    cc = CacheControl.parse('  PUBLIC ,, Max-Age="60",  ,community="UCI", foo ')
    assert cc.public and cc.max_age == 60 and cc.extensions == (("community", '"UCI"'), ("foo", None))
    assert str(cc) == 'public, max-age=60, community="UCI", foo'
    assert CacheControl.parse("max-age=99999999999").max_age == 2 ** 31
    assert CacheControl.parse("max-age=60, max-age=60").max_age == 60       # the same value twice is harmless
    assert CacheControl.parse("").max_age is None
    assert CacheControl.parse([b"public", "max-age=5"]) == CacheControl(public=True, max_age=5)
    assert CacheControl.parse('private="Set-Cookie, X-User"').private == ("set-cookie", "x-user")
    assert CacheControl.parse("no-cache, no-store, must-revalidate, max-age=0").no_store


@pytest.mark.parametrize("header, message", [
    ("max-age=abc", "max-age must be a non-negative integer"),
    ("max-age=-1", "max-age must be a non-negative integer"),
    ("max-age=1.5", "max-age must be a non-negative integer"),
    ("max-age", "max-age needs a number of seconds"),
    ("max-age=", "empty value"),
    ("s-maxage=x", "s-maxage must be"),
    ("stale-while-revalidate=soon", "stale-while-revalidate must be"),
    ("public, private", "public and private contradict"),
    ("max-age=1, max-age=2", "given twice with different values"),
    ("public=yes", "public takes no value"),
    ("immutable=1", "immutable takes no value"),
    ("max age=1", "not a valid directive name"),
    ('private="unterminated', "unterminated quoted string"),
    ("foo=a b", "invalid value"),
    ('private=""', "list of header names"),
])
def test_malformed_and_contradictory_headers_are_value_errors(header: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CacheControl.parse(header)
    assert CacheControl.parse_lenient(header) is None


def test_construction_validates_too() -> None:
    with pytest.raises(ValueError, match="max_age|max-age"):
        CacheControl(max_age=-5)
    with pytest.raises(ValueError, match="max-age"):
        CacheControl(max_age="60")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="contradict"):
        CacheControl(public=True, private=True)
    with pytest.raises(ValueError, match="header names"):
        CacheControl(private=("bad name",))
    with pytest.raises(TypeError, match="str or bytes"):
        CacheControl.parse([1])  # type: ignore[list-item]
    assert str(SHARED_DYNAMIC.replace(max_age=60)) == "public, max-age=60, must-revalidate"


def test_presets() -> None:
    assert str(STATIC_ASSETS) == "public, max-age=31536000, immutable"
    assert str(SHARED_DYNAMIC) == "public, max-age=300, must-revalidate"
    assert str(PRIVATE) == "private, no-cache"
    assert str(NO_STORE) == "no-store"
    assert set(PRESETS) == {"static", "shared", "private", "no-store"}
    assert not PRIVATE.storable_shared and STATIC_ASSETS.storable_shared
    assert CacheControl(s_maxage=5).revalidate_when_stale


def test_route_rules_pick_exact_then_the_longest_prefix() -> None:
    rules = RouteRules([("/", "no-store"), ("/api/", SHARED_DYNAMIC), ("/api/me", "private"),
                        ("= /api/health", "max-age=5")])
    assert rules.match("/api/me/orders") is PRIVATE
    assert rules.match("/api/list") is SHARED_DYNAMIC
    assert rules.match("/api/health") == CacheControl(max_age=5)
    assert rules.match("/api/health/x") is SHARED_DYNAMIC
    assert rules.match("/index.html") is NO_STORE
    assert RouteRules({"/a": "static"}).match("/b") is None
    rules.add("/api/", "static")                              # a second rule for a prefix replaces the first
    assert rules.match("/api/list") is STATIC_ASSETS and len(rules) == 4
    with pytest.raises(TypeError, match="preset name"):
        RouteRules({"/a": 5})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="pattern is a str"):
        RouteRules({5: "static"})  # type: ignore[dict-item]
    assert "override=False" in repr(rules)


def test_conditional_requests() -> None:
    assert E.not_modified({"if-none-match": '"a"'}, '"a"', None)
    assert E.not_modified({"if-none-match": 'W/"a"'}, '"a"', None)          # weak comparison
    assert E.not_modified({"if-none-match": '"x", "a"'}, 'W/"a"', None)
    assert E.not_modified({"if-none-match": "*"}, '"a"', None)
    assert not E.not_modified({"if-none-match": '"b"'}, '"a"', None)
    lm = E.parse_http_date("Mon, 01 Jan 2024 00:00:00 GMT")
    # If-None-Match wins over If-Modified-Since
    assert not E.not_modified({"if-none-match": '"b"', "if-modified-since": "Tue, 02 Jan 2024 00:00:00 GMT"},
                              '"a"', lm)
    assert E.not_modified({"if-modified-since": "Tue, 02 Jan 2024 00:00:00 GMT"}, None, lm)
    assert E.parse_http_date("x" * 100) is None and E.parse_http_date("yesterday") is None


def test_freshness_decisions() -> None:
    cc = CacheControl(max_age=10, stale_while_revalidate=20, stale_if_error=100)
    e = E.new_entry(200, [], b"", 1000.0, cc, 10, {}, [], [], add_etag=False)
    assert E.assess(e, 1005, None, False) == E.FRESH
    assert E.assess(e, 1015, None, False) == E.STALE_SWR
    assert E.assess(e, 1031, None, False) == E.REVALIDATE
    assert E.assess(e, 1031, CacheControl(max_stale=True), False) == E.STALE_OK
    assert E.assess(e, 1005, None, True) == E.REVALIDATE                    # Pragma: no-cache
    assert E.may_serve_on_error(e, 1100, None) and not E.may_serve_on_error(e, 1111, None)
    assert E.may_serve_on_error(e, 1111, CacheControl(stale_if_error=200))
    strict = E.new_entry(200, [], b"", 1000.0, cc.replace(must_revalidate=True), 10, {}, [], [], add_etag=False)
    assert E.assess(strict, 1015, CacheControl(max_stale=True), False) == E.REVALIDATE
    assert not E.may_serve_on_error(strict, 1015, None)


def test_variants_of_refuses_anything_but_entries(caplog: Any) -> None:
    entry = E.new_entry(200, [["a", "b"]], b"x", 1.0, CacheControl(max_age=1), 1, {}, [], [], add_etag=True)
    good = list(entry)                                    # the wire format: a plain list per entry
    got = E.variants_of([E.FORMAT, [good]], "k")
    assert got == [entry] and type(got[0]) is E.Entry and got[0].body == b"x"
    assert E.variants_of([E.FORMAT, [entry]], "k", trusted=True)[0] is entry     # records kept in-process
    assert E.with_variant(None, entry, 8, trusted=False) == [E.FORMAT, [good]]
    assert E.with_variant(None, entry, 8, trusted=True) == [E.FORMAT, [entry]]
    with caplog.at_level(logging.WARNING, logger="fastcache.http"):
        for bad in ("text", [E.FORMAT], ["other/1", [good]], [E.FORMAT, [good[:-1]]],
                    [E.FORMAT, [good[:2] + ["str-body"] + good[3:]]], [E.FORMAT, [[None] * E.N_FIELDS]],
                    [E.FORMAT, [tuple(good)]]):
            assert E.variants_of(bad, "k") is None
        assert E.variants_of([E.FORMAT, [good]], "k", trusted=True) is None     # a list where records live
    assert caplog.text.count("malformed cached response") == 8
    assert E.variants_of(None, "k") is None


def test_tags_for_paths_and_prefixes() -> None:
    assert path_tag("/a/b") == "fc-http:path:/a/b"
    assert prefix_tags("/a/b/c") == ["fc-http:prefix:/", "fc-http:prefix:/a/", "fc-http:prefix:/a/b/"]
    assert prefix_purge_tags("/a/b") == ["fc-http:prefix:/a/b/", "fc-http:path:/a/b"]
    assert prefix_purge_tags("/a/b/") == ["fc-http:prefix:/a/b/"]
    deep = "/" + "/".join(f"d{i}" for i in range(20)) + "/leaf"
    assert len(prefix_tags(deep)) == MAX_PREFIX_DEPTH + 1
    # a prefix deeper than the tagged levels purges its deepest tagged ancestor (more, never less)
    assert prefix_purge_tags(deep)[0] in prefix_tags(deep)
    assert path_tag("/a b\tc") == "fc-http:path:/a%20b%09c"
    with pytest.raises(ValueError, match="starts with '/'"):
        prefix_purge_tags("api/")
    with pytest.raises(TypeError):
        prefix_purge_tags(None)  # type: ignore[arg-type]
