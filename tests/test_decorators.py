"""lru_cache against functools.lru_cache itself; cached/cachedmethod against cachetools' contract."""
from __future__ import annotations

import copy
import functools
import pickle
import threading
from typing import Any

import pytest

import fastcache
from fastcache import cachedmethod, keys

from conftest import FakeTimer


def make_lru(impl: Any, maxsize: Any = 128, typed: bool = False) -> Any:
    def decorate(func: Any) -> Any:
        wrapper = impl.LRUCacheWrapper(func, maxsize, typed, fastcache.CacheInfo)
        return functools.update_wrapper(wrapper, func)
    return decorate


CALL_SEQUENCE = [((1,), {}), ((2,), {}), ((1,), {}), ((1.0,), {}), (("x",), {}), ((3,), {}),
                 ((1,), {}), ((2,), {"k": 1}), ((2,), {"k": 1}), ((), {"a": 1, "b": 2}),
                 ((), {"b": 2, "a": 1}), ((4,), {}), ((2,), {}), ((1,), {})]


@pytest.mark.parametrize("maxsize", [None, 0, -5, 1, 2, 3, 128])
@pytest.mark.parametrize("typed", [False, True])
def test_same_results_and_stats_as_functools(impl: Any, maxsize: Any, typed: bool) -> None:
    def f(*args: Any, **kwargs: Any) -> Any:
        return (args, sorted(kwargs.items()))

    ours = make_lru(impl, 0 if isinstance(maxsize, int) and maxsize < 0 else maxsize, typed)(f)
    ref = functools.lru_cache(maxsize=maxsize, typed=typed)(f)
    for args, kwargs in CALL_SEQUENCE:
        assert ours(*args, **kwargs) == ref(*args, **kwargs)
        assert tuple(ours.cache_info()) == tuple(ref.cache_info())
    assert ours.cache_parameters() == {"maxsize": ref.cache_parameters()["maxsize"], "typed": typed}
    ours.cache_clear()
    ref.cache_clear()
    assert tuple(ours.cache_info()) == tuple(ref.cache_info())


def test_public_lru_cache_api() -> None:
    @fastcache.lru_cache
    def bare(x: int) -> int:
        """doc"""
        return x * 2

    assert bare(2) == 4 and bare.cache_info() == (0, 1, 128, 1)
    assert bare.__name__ == "bare" and bare.__doc__ == "doc" and bare.__wrapped__(3) == 6
    assert type(bare.cache_info()).__name__ == "CacheInfo"
    assert fastcache.lru_cache(maxsize=-1)(abs).cache_info().maxsize == 0
    with pytest.raises(TypeError, match="Expected first argument"):
        fastcache.lru_cache("big")


def module_level(x: int) -> int:
    return x + 1


module_level = fastcache.lru_cache(maxsize=4)(module_level)


@fastcache.cached({})
def module_cached(x: int) -> int:
    return x


def test_pickle_and_copy_by_qualified_name() -> None:
    assert pickle.loads(pickle.dumps(module_level)) is module_level
    assert copy.copy(module_level) is module_level and copy.deepcopy(module_level) is module_level


def test_methods_bind(impl: Any) -> None:
    class Thing:
        def __init__(self, n: int) -> None:
            self.n = n

        @make_lru(impl, maxsize=16)
        def plus(self, x: int) -> int:
            return self.n + x

    a, b = Thing(1), Thing(10)
    assert a.plus(1) == 2 and b.plus(1) == 11 and a.plus(1) == 2
    assert Thing.plus.cache_info().hits == 1


def test_exceptions_are_not_cached(impl: Any) -> None:
    calls = []

    @make_lru(impl, maxsize=4)
    def flaky(x: int) -> int:
        calls.append(x)
        if len(calls) == 1:
            raise ValueError("first call fails")
        return x

    with pytest.raises(ValueError):
        flaky(1)
    assert flaky(1) == 1 and flaky(1) == 1 and calls == [1, 1]


def test_recursion(impl: Any) -> None:
    @make_lru(impl, maxsize=None)
    def fib(n: int) -> int:
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    assert fib(80) == 23416728348467685
    bounded = make_lru(impl, maxsize=3)(lambda n: n if n < 2 else bounded(n - 1) + bounded(n - 2))
    assert bounded(30) == 832040


def test_compiled_wrapper_in_use() -> None:
    wrapper = fastcache.lru_cache(maxsize=2)(abs)
    expected = "fastcache._core._functools" if fastcache.USING_EXTENSIONS else "fastcache._py._functools"
    assert type(wrapper).__module__ == expected


# --------------------------------------------------------------- cached


@pytest.fixture
def cached(impl: Any) -> Any:
    """fastcache.cached, built on the implementation under test."""
    def decorator_factory(cache: Any, key: Any = keys.hashkey, lock: Any = None,
                          condition: Any = None, info: bool = False) -> Any:
        if cache is None:
            raise TypeError("cache must not be None")
        cls = impl.CachedInfoWrapper if info else impl.CachedWrapper

        def decorate(func: Any) -> Any:
            return functools.update_wrapper(cls(func, cache, key, lock, condition), func)
        return decorate
    return decorator_factory


def test_cached_basic_and_info(impl: Any, cached: Any) -> None:
    cache = impl.LRUCache(2)
    calls = []

    @cached(cache, info=True)
    def f(x: int, y: int = 0) -> int:
        calls.append(x)
        return x + y

    assert f(1) == 1 and f(1) == 1 and f(1, y=1) == 2 and f(y=1, x=1) == 2
    assert calls == [1, 1, 1]                   # x=1 by keyword is another key than 1 by position
    assert f(x=1, y=1) == 2 and calls == [1, 1, 1]    # but keyword order does not matter
    assert f.cache_info() == (2, 3, 2, 2)
    assert f.cache is cache and f.cache_key is keys.hashkey and f.__wrapped__(5) == 5
    f.cache_clear()
    assert f.cache_info() == (0, 0, 2, 0)


def test_cached_value_too_large_is_returned_uncached(impl: Any, cached: Any) -> None:
    @cached(impl.LRUCache(3, getsizeof=len))
    def f(n: int) -> str:
        return "x" * n

    assert f(5) == "xxxxx" and len(f.cache) == 0
    assert f(2) == "xx" and len(f.cache) == 1


def test_cached_on_plain_dict_info(cached: Any) -> None:
    @cached({}, info=True)
    def f(x: int) -> int:
        return x

    f(1), f(1)
    assert f.cache_info() == (1, 1, None, 1)


def test_cached_requires_cache(cached: Any) -> None:
    with pytest.raises(TypeError):
        fastcache.cached(None)  # type: ignore[arg-type]
    assert not hasattr(cached({})(abs), "cache_info")
    assert not hasattr(fastcache.cached({})(abs), "cache_info")


def test_public_cached_uses_the_selected_implementation() -> None:
    wrapper = fastcache.cached({}, info=True)(abs)
    expected = "fastcache._core._functools" if fastcache.USING_EXTENSIONS else "fastcache._py._functools"
    assert type(wrapper).__module__ == expected and wrapper.__wrapped__ is abs
    assert wrapper(-3) == 3 and wrapper(-3) == 3 and wrapper.cache_info() == (1, 1, None, 1)


def test_cached_methods_custom_keys_and_pickle(cached: Any, impl: Any) -> None:
    class Thing:
        @cached(impl.LRUCache(8), key=lambda self, x: (id(self), x))
        def twice(self, x: int) -> int:
            return 2 * x

    t = Thing()
    assert t.twice(3) == 6 and t.twice(3) == 6 and Thing.twice.cache.currsize == 1
    assert pickle.loads(pickle.dumps(module_cached)) is module_cached
    assert copy.copy(module_cached) is module_cached


def test_cached_with_lock_prefers_first_stored_value(impl: Any, cached: Any) -> None:
    lock = threading.Lock()
    cache = impl.LRUCache(10)

    @cached(cache, lock=lock)
    def f(x: int) -> object:
        cache.setdefault(keys.hashkey(x), "stored meanwhile")   # another thread's store
        return "computed"

    assert f(1) == "stored meanwhile" and f.cache_lock is lock


def test_cached_with_condition_runs_once_per_key(impl: Any, cached: Any) -> None:
    cond = threading.Condition()
    started, release = threading.Event(), threading.Event()
    calls = []

    @cached(impl.LRUCache(10), condition=cond, info=True)
    def slow(x: int) -> int:
        calls.append(x)
        started.set()
        release.wait(5)
        return x * 10

    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(slow(7))) for _ in range(8)]
    for t in threads:
        t.start()
    assert started.wait(5)
    release.set()
    for t in threads:
        t.join(5)
    assert calls == [7] and results == [70] * 8


def test_cached_condition_exception_reaches_caller_and_is_retried(impl: Any, cached: Any) -> None:
    attempts = []

    @cached(impl.LRUCache(10), condition=threading.Condition())
    def f(x: int) -> int:
        attempts.append(x)
        if len(attempts) == 1:
            raise RuntimeError("boom")
        return x

    with pytest.raises(RuntimeError):
        f(1)
    assert f(1) == 1 and attempts == [1, 1]


def test_cached_ttl_cache(impl: Any, cached: Any) -> None:
    timer = FakeTimer()

    @cached(impl.TTLCache(10, ttl=5, timer=timer))
    def now_value(x: int) -> float:
        return timer.time

    assert now_value(1) == 0
    timer.tick(4)
    assert now_value(1) == 0
    timer.tick(1)
    assert now_value(1) == 5


def test_cachedmethod(impl: Any) -> None:
    class Service:
        def __init__(self) -> None:
            self.cache = impl.LRUCache(4)
            self.calls = 0

        @cachedmethod(lambda self: self.cache, lock=lambda self: threading.Lock())
        def get(self, x: int) -> int:
            self.calls += 1
            return x * 2

    s = Service()
    assert s.get(2) == 4 and s.get(2) == 4 and s.calls == 1
    assert s.get.cache_key.func is keys.methodkey and s.get.cache_key.args == (s,)   # cachetools 8: a partial
    with pytest.raises(TypeError):
        cachedmethod(42)  # type: ignore[arg-type]


def test_keys() -> None:
    assert keys.hashkey(1, 2) == (1, 2)
    assert keys.hashkey(1, b=2, a=1) == keys.hashkey(1, a=1, b=2)
    assert keys.hashkey(1, a=1) != keys.hashkey(1, 1)
    assert keys.typedkey(1, 2.0) == (1, 2.0, int, float)
    assert keys.typedkey(1) != keys.typedkey(1.0)
    assert keys.methodkey(object(), 1, a=2) == keys.hashkey(1, a=2)
    assert pickle.loads(pickle.dumps(keys.hashkey(1, a=2))) == keys.hashkey(1, a=2)
