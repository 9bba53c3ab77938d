"""Eviction order of each policy, on small hand-checked sequences."""
from __future__ import annotations

from typing import Any


def test_lru_evicts_least_recently_used(impl: Any) -> None:
    cache = impl.LRUCache(3)
    cache.update({"a": 1, "b": 2, "c": 3})
    cache["a"]                        # reads count as uses
    cache.get("b")
    "c" in cache                      # `in` does not
    cache.peek("c")                   # neither does peek
    cache["d"] = 4
    assert sorted(cache) == ["a", "b", "d"]
    cache["b"] = 20                   # an update is a use
    cache["e"] = 5
    assert sorted(cache) == ["b", "d", "e"]
    assert cache.popitem() == ("d", 4)


def test_fifo_update_reinserts(impl: Any) -> None:
    cache = impl.FIFOCache(3)
    cache["a"], cache["b"] = 1, 2
    cache["a"] = 3                    # a=1, b=2, a=3, c=4 evicts b (cachetools)
    cache["c"] = 4
    cache["d"] = 5
    assert sorted(cache) == ["a", "c", "d"]
    cache["c"]                        # reads never reorder
    assert cache.popitem() == ("a", 3)


def test_lfu_evicts_least_used_then_least_recent(impl: Any) -> None:
    cache = impl.LFUCache(3)
    cache.update({"a": 1, "b": 2, "c": 3})
    cache["a"], cache["a"], cache["b"]
    assert cache.counts() == {"a": 3, "b": 2, "c": 1}
    cache["d"] = 4                    # c has the fewest uses
    assert sorted(cache) == ["a", "b", "d"]
    cache["d"]                        # d and b both at 2: b is the less recent
    cache["e"] = 5
    assert sorted(cache) == ["a", "d", "e"]


def test_lfu_missing_store_counts_as_use(impl: Any) -> None:
    class Loader(impl.LFUCache):  # type: ignore[name-defined, misc]
        def __missing__(self, key: Any) -> Any:
            self[key] = key
            return key

    cache = Loader(2)
    cache[1]                           # stored by __missing__, then counted as a use
    assert cache.counts() == {1: 2}


def test_lru_order_survives_table_rebuilds(impl: Any) -> None:
    cache = impl.LRUCache(1000)
    for i in range(1000):
        cache[i] = i
    for round_ in range(20):          # churn: many hits and deletions force ring and table rebuilds
        for i in range(1, 1000, 50):
            cache.pop(i, None)
            cache[i] = i
        for i in range(0, 1000, 3):
            cache[i]
    hot = set(range(0, 1000, 3))
    for i in range(2000, 2000 + 1000 - len(hot)):
        cache[i] = i                   # evicts exactly the keys not read since their last write
    assert hot <= set(cache)
