"""Drop-in parity: the same scenario run on fastcache and on cachetools 8 / functools, side by side.

Every test runs on both implementations (the ``impl`` fixture: compiled and pure), and
compares what fastcache does with what the reference library does in the same process.
The decorators are pointed at ``impl``'s wrapper classes by the ``on_impl`` fixture.
"""
from __future__ import annotations

import asyncio
import copy
import functools
import pickle
import sys
import threading
import types
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

import fastcache
from fastcache import _impl

cachetools = pytest.importorskip("cachetools")
if tuple(int(p) for p in cachetools.__version__.split(".")[:2]) < (8, 0):   # pragma: no cover
    pytest.skip(f"the parity tests compare with cachetools 8 (found {cachetools.__version__})",
                allow_module_level=True)


KINDS = ("LRUCache", "LFUCache", "FIFOCache", "TTLCache")


def make(lib: Any, kind: str, maxsize: int = 3, **kw: Any) -> Any:
    cls = getattr(lib, kind)
    if kind == "TTLCache":
        kw.setdefault("ttl", 100)
        kw.setdefault("timer", lambda: 0)
    return cls(maxsize, **kw)


@pytest.fixture
def on_impl(impl: Any, monkeypatch: Any) -> Any:
    """fastcache's decorators building impl's wrappers (compiled or pure)."""
    monkeypatch.setattr(_impl, "LRUCacheWrapper", impl.LRUCacheWrapper)
    monkeypatch.setattr(_impl, "CachedWrapper", impl.CachedWrapper)
    monkeypatch.setattr(_impl, "CachedInfoWrapper", impl.CachedInfoWrapper)
    return impl


# -- generic classes -------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS + ("AdaptiveCache",))
def test_classes_are_generic(impl: Any, kind: str) -> None:
    cls = getattr(impl, kind)
    alias = cls[str, int]
    assert isinstance(alias, types.GenericAlias)
    assert alias.__origin__ is cls and alias.__args__ == (str, int)
    if kind != "AdaptiveCache":
        ref = getattr(cachetools, kind)[str, int]
        assert type(alias) is type(ref) and ref.__args__ == alias.__args__
    cache = alias(4) if kind != "TTLCache" else alias(4, 10)     # the alias constructs the class
    assert type(cache) is cls
    cache["a"] = 1
    assert cache["a"] == 1


def test_ttlcache_takes_a_timer_type_parameter(impl: Any) -> None:
    # cachetools 8 writes TTLCache[K, V, Time]
    alias = impl.TTLCache[str, int, datetime]
    assert alias.__args__ == cachetools.TTLCache[str, int, datetime].__args__


# -- popitem on an empty cache ---------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_popitem_on_empty_raises_like_cachetools(impl: Any, kind: str) -> None:
    caught = []
    for cache in (make(impl, kind), make(cachetools, kind)):
        try:
            try:
                raise LookupError("context that must stay hidden")
            except LookupError:
                cache.popitem()
        except KeyError as exc:
            caught.append(exc)
    ours, ref = caught
    assert str(ours) == str(ref) == f"'{kind} is empty'"
    assert ours.__suppress_context__ is ref.__suppress_context__ is True
    assert ours.__cause__ is ref.__cause__ is None


def test_popitem_on_empty_adaptive(impl: Any) -> None:
    with pytest.raises(KeyError) as info:
        impl.AdaptiveCache(3).popitem()
    assert info.value.__suppress_context__ and info.value.__cause__ is None


# -- TTLCache with datetime timers ---------------------------------------------------------------

class DatetimeClock:
    def __init__(self, start: Any) -> None:
        self.now = start

    def __call__(self) -> Any:
        return self.now


@pytest.mark.parametrize("start", [datetime(2026, 12, 4, 12, 0), datetime(2026, 12, 4, tzinfo=timezone.utc),
                                   date(2026, 12, 4)])
def test_ttlcache_with_datetime_timer_matches_cachetools(impl: Any, start: Any) -> None:
    step = timedelta(days=1) if isinstance(start, date) and not isinstance(start, datetime) else \
        timedelta(microseconds=1)
    results = []
    for lib_cls in (impl.TTLCache, cachetools.TTLCache):
        clock = DatetimeClock(start)
        cache = lib_cls(3, ttl=timedelta(days=2), timer=clock)
        out: list[Any] = []
        cache["a"] = 1
        clock.now += timedelta(days=1)
        cache["b"] = 2
        clock.now += timedelta(days=1) - step              # the last moment "a" lives
        out += ["a" in cache, cache.get("a"), len(cache)]
        clock.now += step                                  # "a" has just expired
        out += ["a" in cache, cache.get("a"), len(cache), list(cache)]
        cache["c"] = 3
        cache["d"] = 4
        out.append(sorted(cache.items()))
        out.append(sorted(cache.expire(clock.now + timedelta(days=1))))
        out.append(sorted(cache.items()))
        out.append(cache.expire(datetime.max if isinstance(start, datetime) and start.tzinfo is None else None))
        out += [cache.ttl, cache.timer() == clock.now]
        with cache.timer as frozen:
            out.append(frozen == clock.now)
        results.append(out)
    assert results[0] == results[1]


def test_ttlcache_datetime_extras(impl: Any) -> None:
    clock = DatetimeClock(datetime(2026, 12, 4))
    cache = impl.TTLCache(3, ttl=timedelta(hours=1), timer=clock)
    cache.set("k", 1, ttl=timedelta(days=3))
    assert cache.expires_at("k") == datetime(2026, 12, 7)
    cache["j"] = 2
    assert cache.expires_at("j") == datetime(2026, 12, 4, 1)
    clock.now += timedelta(hours=2)
    assert "j" not in cache and cache["k"] == 1
    clone = pickle.loads(pickle.dumps(cache))       # expiry times survive a round trip
    assert clone.expires_at("k") == datetime(2026, 12, 7)
    with pytest.raises(TypeError):
        cache.set("x", 1, ttl=5)                    # seconds on a timedelta cache
    with pytest.raises(ValueError):
        cache.set("x", 1, ttl=timedelta(0))
    with pytest.raises(TypeError):
        impl.TTLCache(3, ttl=timedelta(seconds=1))["a"] = 1     # time.monotonic + timedelta


def test_ttlcache_datetime_overflow_like_cachetools(impl: Any) -> None:
    for cls in (impl.TTLCache, cachetools.TTLCache):
        cache = cls(maxsize=1, ttl=timedelta(days=1), timer=lambda: datetime.max)
        with pytest.raises(OverflowError):
            cache["a"] = 1
        assert len(cache) == 0


def test_numeric_timer_path_is_unchanged(impl: Any) -> None:
    cache = impl.TTLCache(3, ttl=10, timer=lambda: 5)
    cache["a"] = 1
    assert cache.expires_at("a") == 15.0 and isinstance(cache.expires_at("a"), float)


# -- TTLCache: updating while iterating (cachetools 8.0.2) ------------------------------------------------

@pytest.mark.parametrize("mutation", ["update", "delete_and_reinsert", "insert", "delete_other"])
def test_ttlcache_mutated_while_iterating_like_cachetools(impl: Any, mutation: str) -> None:
    seen = []
    for cls in (impl.TTLCache, cachetools.TTLCache):
        cache = cls(10, ttl=100, timer=lambda: 0)
        for k in "abcde":
            cache[k] = ord(k)
        visited = []
        for key in cache:
            visited.append(key)
            if mutation == "update":
                cache[key] = 0
            elif mutation == "delete_and_reinsert":
                del cache[key]
                cache[key] = 1
            elif mutation == "insert" and key == "b":
                cache["z"] = 26
            elif mutation == "delete_other" and key == "b":
                del cache["d"]
        seen.append((visited, list(cache), sorted(cache.items())))
    assert seen[0] == seen[1]


# -- copying and pickling caches ---------------------------------------------------------------------------

class DeepcopyTimer:
    """A timer that knows whether it is a deep copy."""

    def __init__(self) -> None:
        self.copied = False

    def __call__(self) -> float:
        return 0.0

    def __deepcopy__(self, memo: Any) -> "DeepcopyTimer":
        clone = DeepcopyTimer()
        clone.copied = True
        return clone


def _subclass(base: type, label: str) -> type:
    """A module-level subclass of base (so it pickles by name) with nothing of its own."""
    name = f"Sub_{label}_{base.__name__}"
    if name not in globals():
        globals()[name] = type(name, (base,), {"__module__": __name__})
    return globals()[name]  # type: ignore[no-any-return]


def _zero() -> float:
    return 0.0


_COPIERS = {"copy": copy.copy, "deepcopy": copy.deepcopy, "pickle": lambda c: pickle.loads(pickle.dumps(c))}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("how", ["copy", "deepcopy", "pickle"])
def test_copies_of_subclasses_with_attributes_like_cachetools(impl: Any, kind: str, how: str) -> None:
    def run(base: type, label: str) -> Any:
        cls = _subclass(base, label)
        cache = cls(3, ttl=100, timer=_zero) if kind == "TTLCache" else cls(3)
        cache.extra = ["attribute"]
        for k in "abcd":
            cache[k] = ord(k)
        cache["c"]
        clone = _COPIERS[how](cache)
        out = [type(clone) is cls, sorted(clone.items()), clone.extra,
               clone.extra is cache.extra, clone.maxsize, clone.currsize]
        clone["x"] = 0                                  # independent of the original ...
        out += [sorted(cache), sorted(clone), clone.popitem()[0], cache.popitem()[0]]   # ... same order
        return out

    assert run(getattr(impl, kind), impl.name.replace("-", "_")) == run(getattr(cachetools, kind), "cachetools")


def test_deepcopy_uses_the_timers_deepcopy(impl: Any) -> None:
    for cls in (impl.TTLCache, cachetools.TTLCache):
        cache = cls(3, ttl=10, timer=DeepcopyTimer())
        cache["a"] = 1
        clone = copy.deepcopy(cache)
        assert clone.timer.copied is True and cache.timer.copied is False
        assert clone["a"] == 1


# -- @cached -------------------------------------------------------------------------------------------

def test_cached_wrapper_is_a_callable_object_with_cachetools_attributes(on_impl: Any) -> None:
    def f(x: int) -> int:
        return x + 1

    for lib in (fastcache, cachetools):
        plain = lib.cached(lib.LRUCache(2))(f)
        info = lib.cached(lib.LRUCache(2), info=True)(f)
        assert not isinstance(plain, types.FunctionType) and callable(plain)
        assert not hasattr(plain, "cache_info")             # only with info=True (cachetools 8)
        assert plain.__wrapped__ is f and plain.__name__ == "f"
        assert plain.cache_lock is None and plain.cache_condition is None
        assert [info(1), info(1), info(2)] == [2, 2, 3]
        assert info.cache_info() == (1, 2, 2, 2) and type(info.cache_info()).__name__ == "CacheInfo"
        assert copy.copy(plain) is plain and copy.deepcopy(plain) is plain
        assert repr(plain) == f"<cached {f!r}>"
        with pytest.raises(TypeError):
            lib.cached(None)


def test_cache_info_type_is_public(on_impl: Any) -> None:
    assert fastcache.CacheInfo._fields == cachetools.CacheInfo._fields
    ours = fastcache.cached({}, info=True)(abs)
    ref = cachetools.cached({}, info=True)(abs)
    ours(-1), ref(-1)
    assert ours.cache_info() == ref.cache_info() == (0, 1, None, 1)


def test_stacked_cached_keep_their_own_caches(on_impl: Any) -> None:
    for lib in (fastcache, cachetools):
        inner_cache, outer_cache = lib.LRUCache(2), lib.LRUCache(2)
        inner = lib.cached(inner_cache, info=True)(abs)
        outer = lib.cached(outer_cache, info=True)(inner)
        assert outer.__wrapped__ is inner and outer.cache is outer_cache and inner.cache is inner_cache
        outer(-3)
        outer(-3)
        assert outer.cache_info()[:2] == (1, 1) and inner.cache_info()[:2] == (0, 1)


@pytest.mark.parametrize("variant", ["plain", "lock", "condition"])
def test_cached_call_sequences_match(on_impl: Any, variant: str) -> None:
    logs = []
    for lib in (fastcache, cachetools):
        calls: list[Any] = []

        def f(*args: Any, **kwargs: Any) -> Any:
            calls.append((args, kwargs))
            if args and args[0] == "boom":
                raise ValueError("boom")
            return (args, sorted(kwargs.items()))

        kw: dict[str, Any] = {"info": True}
        if variant == "lock":
            kw["lock"] = threading.RLock()
        elif variant == "condition":
            kw["condition"] = threading.Condition()
        w = lib.cached(lib.LRUCache(3), **kw)(f)
        out = []
        for args, kwargs in [((1,), {}), ((1,), {}), ((2,), {"k": 1}), ((2,), {"k": 1}), ((3,), {}),
                             ((4,), {}), ((1,), {}), (("boom",), {}), (("boom",), {})]:
            try:
                out.append(w(*args, **kwargs))
            except ValueError as exc:
                out.append(repr(exc))
            out.append(tuple(w.cache_info()))
        w.cache_clear()
        out.append(tuple(w.cache_info()))
        logs.append((out, calls))
    assert logs[0] == logs[1]


# -- @cachedmethod ----------------------------------------------------------------------------------------

def _method_classes(lib: Any, info: bool, variant: str) -> Any:
    kw: dict[str, Any] = {"info": info}
    if variant == "lock":
        kw["lock"] = lambda self: self.lock
    elif variant == "condition":
        kw["condition"] = lambda self: self.cond

    class Service:
        def __init__(self, size: int = 3) -> None:
            self.cache = lib.LRUCache(size)
            self.lock = threading.RLock()
            self.cond = threading.Condition(self.lock)
            self.calls = 0

        @lib.cachedmethod(lambda self: self.cache, **kw)
        def get(self, x: Any, *, scale: int = 1) -> Any:
            self.calls += 1
            return x * scale

    return Service


@pytest.mark.parametrize("variant", ["plain", "lock", "condition"])
@pytest.mark.parametrize("info", [False, True])
def test_cachedmethod_behaves_like_cachetools(impl: Any, variant: str, info: bool) -> None:
    results = []
    for lib in (types.SimpleNamespace(LRUCache=impl.LRUCache, cachedmethod=fastcache.cachedmethod),
                cachetools):
        Service = _method_classes(lib, info, variant)
        s, t = Service(), Service()
        out: list[Any] = [s.get(2), s.get(2), s.get(2, scale=3), t.get(2), Service.get(s, 2),
                          Service.get(self=t, x=5), s.calls, t.calls, s.get is s.get, "get" in vars(s),
                          hasattr(s.get, "cache_info"), s.get.cache is s.cache,
                          s.get.cache_key(7) == cachetools.keys.methodkey(s, 7)]
        out.append((s.get.cache_lock is None, s.get.cache_condition is None))
        if info:
            out += [tuple(s.get.cache_info()), tuple(t.get.cache_info())]
        s.get.cache_clear()
        out.append(len(s.cache))
        if info:
            out.append(tuple(s.get.cache_info()))
        out.append(repr(Service.get).split(" at ")[0])
        out.append(repr(s.get).split(" at ")[0])
        results.append(out)
    assert results[0] == results[1]


def test_cachedmethod_errors_like_cachetools(impl: Any) -> None:
    for lib in (fastcache, cachetools):
        with pytest.raises(TypeError):
            lib.cachedmethod(42)

        descriptor = lib.cachedmethod(lambda self: {})(lambda self, x: x)

        class Late:
            pass

        Late.m = descriptor              # no __set_name__
        with pytest.raises(TypeError, match="__set_name__"):
            Late().m(1)

        class Slotted:
            __slots__ = ("cache",)

            @lib.cachedmethod(lambda self: self.cache)
            def m(self, x: int) -> int:
                return x

        s = Slotted()
        s.cache = {}
        with pytest.raises(TypeError, match="__dict__"):
            s.m(1)

        with pytest.raises(TypeError):
            class WithClassmethod:
                cache: dict[Any, Any] = {}

                @classmethod  # type: ignore[misc]
                @lib.cachedmethod(lambda cls: cls.cache)
                def m(cls, x: int) -> int:
                    return x

            WithClassmethod.m(1)

        class NoReceiver:
            @lib.cachedmethod(lambda self: {})
            def m(self) -> int:
                return 1

        with pytest.raises(TypeError):
            NoReceiver.m()


class PickledService:
    def __init__(self) -> None:
        self.cache: dict[Any, Any] = {}
        self.calls = 0

    @fastcache.cachedmethod(lambda self: self.cache, info=True)
    def get(self, x: int) -> int:
        self.calls += 1
        return x + 1


class PickledChild(PickledService):
    def __init__(self) -> None:
        super().__init__()
        self.child_cache: dict[Any, Any] = {}

    @fastcache.cachedmethod(lambda self: self.child_cache, info=True)
    def get(self, x: int) -> int:
        return super().get(x) * 10


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_instances_with_cachedmethods_pickle_and_deepcopy(how: str) -> None:
    obj = PickledChild()
    assert obj.get(1) == 20 and obj.get(1) == 20
    assert obj.cache == {(1,): 2} and obj.child_cache == {(1,): 20}
    clone = pickle.loads(pickle.dumps(obj)) if how == "pickle" else copy.deepcopy(obj)
    assert clone.get is not obj.get and clone.get.cache is clone.child_cache
    assert clone.get(1) == 20 and clone.calls == 1                 # served from the copied caches
    assert clone.get.cache_info().hits == 1                        # counts restart on the copy
    assert super(PickledChild, clone).get.cache is clone.cache
    assert pickle.loads(pickle.dumps(PickledService.get)) is PickledService.get


def test_super_calls_keep_separate_caches() -> None:
    for lib in (fastcache, cachetools):
        class Base:
            def __init__(self) -> None:
                self.base_cache: dict[Any, Any] = {}
                self.child_cache: dict[Any, Any] = {}

            @lib.cachedmethod(lambda self: self.base_cache)
            def m(self, x: int) -> int:
                return x

        class Child(Base):
            @lib.cachedmethod(lambda self: self.child_cache)
            def m(self, x: int) -> int:
                return super().m(x) + 1

        c = Child()
        assert c.m(1) == 2 and c.base_cache == {(1,): 1} and c.child_cache == {(1,): 2}


# -- functools.lru_cache: hashing ------------------------------------------------------------------------

class Hashed:
    calls = 0

    def __init__(self, v: int) -> None:
        self.v = v

    def __hash__(self) -> int:
        Hashed.calls += 1
        return hash(self.v)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hashed) and self.v == other.v


def _hash_profile(decorator: Any) -> list[int]:
    f = decorator(lambda x, *rest, **kw: x.v)
    profile = []
    for args, kwargs in [((Hashed(1),), {}), ((Hashed(1),), {}), ((Hashed(2),), {}), ((Hashed(3),), {}),
                         ((Hashed(4),), {}), ((Hashed(1), 2), {}), ((Hashed(5),), {"k": 1}),
                         ((Hashed(5),), {"k": 1})]:
        Hashed.calls = 0
        f(*args, **kwargs)
        profile.append(Hashed.calls)
    return profile


@pytest.mark.parametrize("maxsize", [2, 128, None])
@pytest.mark.parametrize("typed", [False, True])
def test_lru_cache_hashes_each_argument_once_like_functools(on_impl: Any, maxsize: Any, typed: bool) -> None:
    ours = _hash_profile(fastcache.lru_cache(maxsize=maxsize, typed=typed))
    ref = _hash_profile(functools.lru_cache(maxsize=maxsize, typed=typed))
    assert ours == ref
    assert set(ours) == {1}          # one __hash__ per call: hit, miss, and misses that evict others


# -- recursion depth ---------------------------------------------------------------------------------------

def _sync_depth(decorator: Any) -> int:
    reached = [0]

    @decorator
    def down(n: int) -> int:
        reached[0] += 1
        return 0 if n == 0 else down(n - 1) + 1

    try:
        down(sys.getrecursionlimit() * 2)
    except RecursionError:
        pass
    return reached[0]


def _async_depth(decorator: Any) -> int:
    reached = [0]

    @decorator
    async def down(n: int) -> int:
        reached[0] += 1
        return 0 if n == 0 else await down(n - 1) + 1

    try:
        asyncio.run(down(sys.getrecursionlimit() * 2))
    except RecursionError:
        pass
    return reached[0]


@pytest.mark.parametrize("kind", ["LRUCache", "TTLCache"])
def test_recursive_cached_reaches_cachetools_depth(on_impl: Any, kind: str) -> None:
    def cache(lib: Any) -> Any:
        return lib.LRUCache(10**6) if kind == "LRUCache" else lib.TTLCache(10**6, 1000)

    reference = _sync_depth(cachetools.cached(cache(cachetools)))
    impl_lib = types.SimpleNamespace(LRUCache=on_impl.LRUCache, TTLCache=on_impl.TTLCache)
    assert reference > 100
    assert _sync_depth(fastcache.cached(cache(impl_lib))) >= reference
    assert _async_depth(fastcache.cached(cache(impl_lib))) >= reference


def test_recursive_lru_cache_reaches_cachetools_depth(on_impl: Any) -> None:
    reference = _sync_depth(cachetools.cached(cachetools.LRUCache(10**6)))
    assert _sync_depth(fastcache.lru_cache(maxsize=None)) >= reference
    assert _sync_depth(fastcache.lru_cache(maxsize=10**6)) >= reference


# -- key functions ----------------------------------------------------------------------------------------

KEY_CALLS = [((1, 2), {}), ((1.0, 2), {}), ((1,), {"a": 2}), ((1,), {"a": 2.0}), ((), {"a": 1, "b": 2}),
             ((), {"b": 2, "a": 1}), ((1, "a", 2), {}), ((), {}), (((1, 2),), {}), ((True,), {}), ((1,), {})]


@pytest.mark.parametrize("name", ["hashkey", "typedkey", "methodkey", "typedmethodkey"])
def test_key_functions_like_cachetools(name: str) -> None:
    ours, ref = getattr(fastcache.keys, name), getattr(cachetools.keys, name)
    receiver = () if "method" not in name else (object(),)

    def partition(fn: Any) -> list[list[int]]:
        keys = [fn(*receiver, *args, **kwargs) for args, kwargs in KEY_CALLS]
        return [[j for j, other in enumerate(keys) if other == key] for key in keys]

    assert partition(ours) == partition(ref)            # the same calls share a key
    for args, kwargs in KEY_CALLS:
        mine, theirs = ours(*receiver, *args, **kwargs), ref(*receiver, *args, **kwargs)
        assert type(mine) is type(theirs) is tuple      # plain tuples (cachetools 8)
        if not kwargs:
            assert mine == theirs                       # equal outright; with kwargs only the separator differs
        assert pickle.loads(pickle.dumps(mine)) == mine


def _double(x: int) -> int:
    return x * 2


@fastcache.cached(fastcache.LRUCache(10))
def module_level_cached(x: int) -> int:
    return x + 1


def test_cached_wrappers_copy_and_pickle_like_cachetools(on_impl: Any) -> None:
    for lib in (fastcache, cachetools):
        of_partial = lib.cached(lib.LRUCache(2))(functools.partial(_double))    # no __qualname__ (8.0.1)
        assert copy.copy(of_partial) is of_partial and copy.deepcopy(of_partial) is of_partial
        assert of_partial(2) == 4
    assert pickle.loads(pickle.dumps(module_level_cached)) is module_level_cached
