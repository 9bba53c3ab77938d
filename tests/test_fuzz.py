"""Every parser of outside data, fuzzed (Hypothesis): only the documented exceptions escape.

Outside data: HTTP headers (Cache-Control, and whole requests and responses through both
middlewares), payloads read from Redis (the serializers, and a RedisCache reading what
another client wrote), trace files, invalidation messages on the pub/sub channel, and
write-behind journal entries.  Corrupt input is a miss or a skipped entry plus a log
line; it never crashes a listener or a writer, and nothing is unpickled unless signed.
"""
from __future__ import annotations

import asyncio
import io
import logging
import pickle
import time
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import wait_for
from fastcache import LRUCache, TieredCache
from fastcache.http import CacheMiddleware, WSGICacheMiddleware
from fastcache.http.cache_control import CacheControl
from fastcache.patterns.journal import RedisStreamJournal
from fastcache.redis import RedisCache
from fastcache.redis.invalidation import decode_message
from fastcache.serializers import JSONSerializer, PickleSerializer, SerializationError
from fastcache.traces import FORMATS, read_trace

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
FEW = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))

header_text = st.text(st.characters(min_codepoint=0, max_codepoint=0x2FF), max_size=80)
directive = st.sampled_from(["max-age", "s-maxage", "no-cache", "no-store", "private", "public",
                             "must-revalidate", "immutable", "stale-while-revalidate", "stale-if-error",
                             "max-stale", "min-fresh", "only-if-cached", "no-transform", "x-ext"])
cc_value = st.one_of(
    header_text,
    st.lists(st.tuples(directive, st.one_of(st.none(), st.integers(-5, 10**12).map(str), header_text)),
             max_size=5).map(lambda ds: ", ".join(d if v is None else f"{d}={v}" for d, v in ds)))


# -- Cache-Control ---------------------------------------------------------------------

@FUZZ
@given(cc_value)
def test_cache_control_parse_raises_only_value_error(header: str) -> None:
    for form in (header, header.encode("latin-1", "replace"), header.split(",")):
        try:
            cc = CacheControl.parse(form)
        except ValueError:
            assert CacheControl.parse_lenient(form) is None or True
            continue
        assert isinstance(cc, CacheControl)
        assert CacheControl.parse(str(cc)) == cc if hasattr(cc, "__eq__") else True


# -- serializers -----------------------------------------------------------------------

@FUZZ
@given(st.binary(max_size=200))
def test_json_loads_raises_only_serialization_error(data: bytes) -> None:
    try:
        JSONSerializer().loads(data)
    except SerializationError:
        pass


class _Detonator:
    fired: list[int] = []

    def __reduce__(self) -> Any:
        return (_Detonator.fired.append, (1,))


@FUZZ
@given(st.binary(max_size=200), st.integers(0, 400))
def test_pickle_loads_never_unpickles_what_is_not_signed(junk: bytes, cut: int) -> None:
    good, other = PickleSerializer(b"k" * 32), PickleSerializer(b"x" * 32)
    payload = good.dumps({"a": [1, 2]})
    forged = other.dumps(_Detonator())               # signed with another secret
    unsigned = pickle.dumps(_Detonator())            # a bare pickle that would run code
    for data in (junk, payload[:cut], payload[:cut] + junk, forged, unsigned, junk + payload):
        try:
            value = good.loads(data)
        except SerializationError:
            continue
        assert value == {"a": [1, 2]}                 # only the genuine payload decodes
    assert _Detonator.fired == []


# -- what another client left in Redis ---------------------------------------------------

@FEW
@given(blobs=st.lists(st.binary(max_size=64), min_size=1, max_size=6))
def test_redis_cache_reads_garbage_as_misses(redis_url: str, blobs: list[bytes]) -> None:
    raw = redis.Redis.from_url(redis_url)
    cache = RedisCache(redis_url, prefix="fz:")
    try:
        for i, blob in enumerate(blobs):
            raw.set(f"fz:k{i}", blob)
        raw.rpush("fz:list", b"x")                     # another Redis type under a key
        for i, blob in enumerate(blobs):
            try:
                # what the default serializer makes of it (after an expiry header, if one)
                expected = JSONSerializer().loads(blob[10:] if blob[:2] == b"\xfe\x01" and len(blob) >= 10
                                                  else blob)
            except SerializationError:
                expected = "miss"
            assert cache.get(f"k{i}", "miss") == expected
        assert cache.get("list", "miss") == "miss"
        assert cache.get_many([f"k{i}" for i in range(len(blobs))] + ["list"]) is not None
        for i in range(len(blobs)):                      # through the expiry-header reader
            found, _, remaining = cache.get_with_ttl(f"k{i}")
            assert remaining is None or remaining >= 0
        cache.get_many_with_ttl([f"k{i}" for i in range(len(blobs))])
    finally:
        cache.close()


@FUZZ
@given(expires=st.integers(-2**63, 2**63 - 1), body=st.binary(max_size=40), cut=st.integers(0, 12))
def test_expiry_header_reader_never_raises(expires: int, body: bytes, cut: int) -> None:
    """Any bytes after the magic, a truncated header, any expiry: a value or a miss."""
    from fastcache.redis._common import EXPIRY_MAGIC, PayloadCodec
    codec = PayloadCodec(None, "fuzz")
    data = (EXPIRY_MAGIC + expires.to_bytes(8, "big", signed=True) + body)[:len(body) + 10 - cut]
    found, _, remaining = codec.loads_with_ttl("k", data)
    assert remaining is None or remaining >= 0 or remaining == -1.0
    assert codec.loads("k", data)[0] == found


# -- trace files -------------------------------------------------------------------------

@FUZZ
@given(data=st.binary(max_size=300), fmt=st.sampled_from(FORMATS))
def test_trace_readers_raise_only_value_error(tmp_path_factory: Any, data: bytes, fmt: str) -> None:
    path = tmp_path_factory.mktemp("fz") / "trace.bin"
    path.write_bytes(data)
    try:
        keys = list(read_trace(str(path), format=fmt))
    except ValueError:
        return
    assert all(isinstance(k, int) for k in keys)


# -- HTTP requests and responses through both middlewares --------------------------------

token = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=0, max_size=30)
request_headers = st.lists(st.tuples(
    st.sampled_from(["cache-control", "pragma", "if-none-match", "if-modified-since", "authorization",
                     "accept", "accept-encoding", "cookie", "range", "x-any"]),
    st.one_of(cc_value, token)), max_size=5)
response_headers = st.lists(st.tuples(
    st.sampled_from(["cache-control", "expires", "etag", "last-modified", "vary", "age", "date",
                     "surrogate-key", "surrogate-control", "set-cookie", "content-length", "x-any"]),
    st.one_of(cc_value, token)), max_size=6)
statuses = st.sampled_from([200, 203, 204, 206, 301, 304, 404, 410, 500, 503])
methods = st.sampled_from(["GET", "HEAD", "POST", "PURGE", "OPTIONS"])


def _latin1(s: str) -> bytes:
    return s.encode("latin-1", "replace")


@FUZZ
@given(methods, token, request_headers, statuses, response_headers, st.binary(max_size=50))
def test_asgi_middleware_survives_any_headers(method: str, path: str, req: list[Any], status: int,
                                              resp: list[Any], body: bytes) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(_latin1(k), _latin1(v)) for k, v in resp]})
        await send({"type": "http.response.body", "body": body})

    mw = CacheMiddleware(app, LRUCache(100))
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": "/" + path, "raw_path": _latin1("/" + path),
             "query_string": b"", "headers": [(_latin1(k), _latin1(v)) for k, v in req],
             "scheme": "http", "server": ("testserver", 80), "http_version": "1.1"}

    async def twice() -> None:
        for _ in range(2):                             # a miss, then whatever the cache makes of it
            sent.clear()
            await mw(scope, receive, send)
            assert sent and sent[0]["type"] == "http.response.start"
            assert isinstance(sent[0]["status"], int)
    asyncio.run(twice())


@FUZZ
@given(methods, token, request_headers, statuses, response_headers, st.binary(max_size=50))
def test_wsgi_middleware_survives_any_headers(method: str, path: str, req: list[Any], status: int,
                                              resp: list[Any], body: bytes) -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response(f"{status} X", [(k, v.encode("latin-1", "replace").decode("latin-1")) for k, v in resp])
        return [body]

    mw = WSGICacheMiddleware(app, LRUCache(100))
    environ = {"REQUEST_METHOD": method, "PATH_INFO": "/" + path, "QUERY_STRING": "", "SERVER_NAME": "t",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""),
               "SERVER_PROTOCOL": "HTTP/1.1"}
    for k, v in req:
        environ["HTTP_" + k.upper().replace("-", "_")] = v.encode("latin-1", "replace").decode("latin-1")
    for _ in range(2):
        started: list[Any] = []
        chunks = mw(dict(environ), lambda s, h, exc_info=None: started.append((s, h)))
        b"".join(chunks)
        assert started and isinstance(started[0][0], str)


# -- invalidation messages and journal entries from Redis ---------------------------------

def test_deeply_nested_json_is_a_bad_message_not_a_crash() -> None:
    for data in (b"[" * 5000, b'{"o":' * 3000):
        with pytest.raises(ValueError):
            decode_message(data)
    from fastcache.redis.invalidation import member_key
    with pytest.raises(ValueError):
        member_key(b"[" * 5000)
    with pytest.raises(SerializationError):
        JSONSerializer().loads(JSONSerializer.FORMAT + b"[" * 5000)


@FUZZ
@given(st.one_of(st.binary(max_size=120), st.text(max_size=120),
                 st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)),
                              lambda c: st.one_of(st.lists(c, max_size=4),
                                                  st.dictionaries(st.sampled_from(["o", "r", "k", "t", "x"]), c,
                                                                  max_size=5)),
                              max_leaves=12).map(lambda v: __import__("json").dumps(v))))
def test_decode_message_raises_only_value_error(data: Any) -> None:
    try:
        origin, reason, keys, tags = decode_message(data)
    except ValueError:
        return
    assert isinstance(origin, str) and isinstance(reason, str)


def test_garbage_on_the_channel_is_logged_and_skipped(redis_url: str, caplog: Any) -> None:
    # A foreign publisher puts junk on the invalidation channel; the listener logs each
    # message, skips it, and still applies the next real invalidation.
    writer = TieredCache(LRUCache(10), RedisCache(redis_url, prefix="fzc:"))
    reader = TieredCache(LRUCache(10), RedisCache(redis_url, prefix="fzc:"))
    try:
        assert writer.wait_ready() and reader.wait_ready()
        writer.set("k", 1)
        assert wait_for(lambda: reader.stats().invalidations_received >= 1)
        assert reader.get("k") == 1 and reader.get_l1("k") == 1
        raw = redis.Redis.from_url(redis_url)
        channel = b"fastcache:invalidate:fzc:"
        resets = reader._listener.resets
        with caplog.at_level(logging.WARNING, logger="fastcache.invalidation"):
            for junk in (b"\x00\xff", b"{}", b'{"o": 1}', b'{"o":"x","r":"set","k":[["q",1]]}', b"[" * 5000,
                         b'{"o":"x","r":"set","k":[["b","%%%"]]}'):
                raw.publish(channel, junk)
            writer.set("k", 2)
            assert wait_for(lambda: reader.get_l1("k") is None)     # the real message still lands
        assert reader.get("k") == 2
        # both listeners (the writer's and the reader's) logged each of the six, once
        assert sum("ignoring a message" in r.getMessage() for r in caplog.records) == 12
        assert reader.stats().extra["invalidation_connected"]
        assert reader._listener.resets == resets                  # no reconnect, no flush
    finally:
        for tc in (writer, reader):
            tc.close()
            tc.l2.close()


@FEW
@given(entries=st.lists(st.dictionaries(st.sampled_from([b"k", b"v", b"x"]), st.binary(max_size=30),
                                        min_size=1, max_size=3), min_size=1, max_size=5))
def test_journal_backlog_skips_foreign_entries(redis_url: str, entries: list[dict[bytes, bytes]]) -> None:
    journal = RedisStreamJournal(redis_url, "fuzz")
    try:
        journal.client.delete(journal.stream)
        journal.append("good", 1)
        for fields in entries:
            journal.client.xadd(journal.stream, fields)
        backlog = journal.backlog()
        assert ("good", 1) in [(k, v) for _, k, v in backlog]
        assert all(isinstance(entry_id, bytes) for entry_id, _, _ in backlog)
    finally:
        journal.client.close()


@FUZZ
@given(st.one_of(st.none(), st.lists(st.one_of(st.binary(max_size=20), st.text(max_size=20), st.integers(),
                                                st.none(), st.lists(st.binary(max_size=4), max_size=2)),
                                      max_size=6),
                 st.binary(max_size=20), st.integers(), st.text(max_size=10)),
       st.binary(max_size=4))
def test_tracking_message_reader_raises_only_value_error(data: Any, prefix: bytes) -> None:
    """What arrives on __redis__:invalidate (anyone may PUBLISH there): keys or a ValueError."""
    from fastcache.redis.invalidation import tracked_keys
    try:
        keys = tracked_keys(data, prefix)
    except ValueError:
        return
    assert keys is None or all(isinstance(k, (bytes, str, int)) for k in keys)


_NODE_LINE = st.builds(
    lambda id_, host, port, flags, rest: f"{id_} {host}:{port}@{port + 10000} {flags} {rest}",
    st.text("0123456789abcdef", min_size=1, max_size=8), st.sampled_from(["127.0.0.1", "::1", "", "h"]),
    st.integers(-5, 70000), st.sampled_from(["master", "myself,master", "slave", "master,fail", "master,fail?",
                                             "handshake", "master,noaddr", "", ","]),
    st.text(max_size=30))


@FUZZ
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200), st.lists(_NODE_LINE, max_size=6).map("\n".join),
                 st.integers(), st.none()))
def test_cluster_nodes_reader_raises_only_value_error(reply: Any) -> None:
    """A CLUSTER NODES reply (what a node, or anything at its address, answers): masters or
    a ValueError."""
    from fastcache.redis.invalidation import cluster_shards
    try:
        shards = cluster_shards(reply)
    except ValueError:
        return
    assert all(isinstance(h, str) and h and isinstance(p, int) and 0 < p < 65536 for h, p in shards)
    assert all(0 <= lo <= hi < 16384 for ranges in shards.values() for lo, hi in ranges)


def test_cluster_nodes_reader_picks_the_live_masters() -> None:
    from fastcache.redis.invalidation import cluster_masters, cluster_shards
    reply = (b"a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\n"
             b"b2 127.0.0.1:7001@17001,host-b master - 0 1 2 connected 5461-10922\n"
             b"c3 127.0.0.1:7002@17002 master,fail - 1 1 3 disconnected 10923-16383\n"
             b"d4 127.0.0.1:7003@17003 slave a1 0 1 1 connected\n"
             b"e5 ::1:7004@17004 master - 0 1 4 connected 10923-16383\n"
             b"f6 :0@0 master,noaddr - 0 1 5 disconnected\n"
             b"g7 127.0.0.1:7005@17005 master - 0 1 6 connected\n")
    assert cluster_masters(reply) == [("127.0.0.1", 7000), ("127.0.0.1", 7001), ("::1", 7004), ("127.0.0.1", 7005)]
    moving = b"a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-99 100 [101->-b2] [102-<-c3] 200-300\n"
    assert cluster_shards(moving) == {("127.0.0.1", 7000): [(0, 99), (100, 100), (200, 300)]}
    for bad in (b"a1 127.0.0.1:7000@17000 master - 0 0 1 connected 5-2\n",
                b"a1 127.0.0.1:7000@17000 master - 0 0 1 connected 0-16384\n",
                b"a1 127.0.0.1:7000@17000 master - 0 0 1 connected x\n"):
        with pytest.raises(ValueError):
            cluster_shards(bad)
    with pytest.raises(ValueError):
        cluster_masters(b"not a reply")
    with pytest.raises(ValueError):
        cluster_masters(b"\xff\xfe")
