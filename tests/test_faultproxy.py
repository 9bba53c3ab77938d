"""The fault-injecting proxy itself, against a real redis-server: each fault does what it says."""
from __future__ import annotations

import socket
import time
from typing import Any

import pytest
import redis

from faultproxy import FaultProxy


@pytest.fixture
def proxy(redis_server: Any) -> Any:
    with FaultProxy(redis_server.port) as p:
        yield p


def client(proxy: FaultProxy, timeout: float = 0.5) -> redis.Redis:
    return redis.Redis(port=proxy.port, socket_timeout=timeout, socket_connect_timeout=timeout,
                       retry=None)


def test_pass_latency_and_trickle(proxy: FaultProxy, redis_url: str) -> None:
    c = client(proxy, timeout=5)
    assert c.ping() and c.set("k", b"x" * 5000) and c.get("k") == b"x" * 5000
    proxy.latency(0.2)
    t0 = time.monotonic()
    assert c.get("k") == b"x" * 5000
    assert time.monotonic() - t0 >= 0.35              # 0.2 s each way
    proxy.trickle(chunk=512, delay=0.001)
    assert c.get("k") == b"x" * 5000                  # the reply arrives in pieces, whole
    proxy.heal()
    assert c.ping()


def test_partition_holds_bytes_and_heal_delivers_them(proxy: FaultProxy, redis_url: str) -> None:
    direct = redis.Redis.from_url(redis_url)
    c = client(proxy, timeout=0.3)
    assert c.ping()
    proxy.partition()
    with pytest.raises(redis.TimeoutError):
        c.set("late", "written")                        # the client gives up ...
    assert direct.get("late") is None
    proxy.heal()
    deadline = time.monotonic() + 5
    while direct.get("late") is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert direct.get("late") == b"written"             # ... but the server applies it after healing


def test_reset_and_refuse(proxy: FaultProxy) -> None:
    c = client(proxy)
    assert c.ping()
    proxy.reset()
    with pytest.raises(redis.ConnectionError):
        c.ping()
    assert proxy.connections() == 0
    proxy.refuse()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=1).close()
    proxy.heal()
    assert client(proxy).ping()
