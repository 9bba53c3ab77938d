"""HashRing, ketama_hash, key_slot and jump_hash, against independent implementations.

uhashring (ketama mode) and redis-py's ``key_slot`` are the independent
references; a ten-line libmemcached continuum written here from the
formula (landscape notes §d.8) checks the weighted point counts.
"""
from __future__ import annotations

import bisect
import gc
import hashlib
import math
import pickle
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

uhashring = pytest.importorskip("uhashring")
redis_crc = pytest.importorskip("redis.crc")

KEYS = [f"user:{i}" for i in range(20_000)]


def libmemcached_continuum(weights: dict[str, int]) -> list[tuple[int, str]]:
    """libmemcached's update_continuum, floating point as it does it."""
    total = sum(weights.values())
    points = []
    for name, w in weights.items():
        pct = w / total
        count = int(math.floor(pct * 160 / 4 * len(weights) + 1e-10))
        for i in range(count):
            d = hashlib.md5(f"{name}-{i}".encode()).digest()
            for j in range(4):
                points.append((int.from_bytes(d[4 * j:4 * j + 4], "little"), name))
    return sorted(points, key=lambda p: p[0])


def libmemcached_lookup(points: list[tuple[int, str]], key: str) -> str:
    h = int.from_bytes(hashlib.md5(key.encode()).digest()[:4], "little")
    i = bisect.bisect_left([p[0] for p in points], h)
    return points[i % len(points)][1]


# -- hash functions -------------------------------------------------------

@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_ketama_hash_is_first_md5_word(impl, data):
    assert impl.hashing.ketama_hash(data) == int.from_bytes(hashlib.md5(data).digest()[:4], "little")


@given(st.text(max_size=80))
def test_ketama_hash_of_str_is_utf8(impl, text):
    assert impl.hashing.ketama_hash(text) == impl.hashing.ketama_hash(text.encode("utf-8"))


def test_md5_block_boundaries(impl):
    # 55/56/63/64/119/120 bytes are where MD5 padding changes shape.
    for n in (0, 1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000):
        data = bytes(range(256)) * 4
        assert impl.hashing.ketama_hash(data[:n]) == int.from_bytes(
            hashlib.md5(data[:n]).digest()[:4], "little"), n


SLOT_VECTORS = {"123456789": 0x31C3 & 16383, "foo": 12182, "{user1000}.following": 3443,
                "{user1000}.followers": 3443, "foo{}{bar}": 8363, "foo{{bar}}zap": 4015,
                "foo{bar}{zap}": 5061}


def test_key_slot_vectors(impl):
    for key, slot in SLOT_VECTORS.items():
        assert impl.hashing.key_slot(key) == slot, key
        assert impl.hashing.key_slot(key.encode()) == slot


@given(st.one_of(st.binary(max_size=40), st.text(alphabet="ab{}c", max_size=12)))
@settings(max_examples=400)
def test_key_slot_matches_redis_py(impl, key):
    assert impl.hashing.key_slot(key) == redis_crc.key_slot(key.encode() if isinstance(key, str) else key)


def test_jump_hash_vectors(impl):
    jump = impl.hashing.jump_hash
    assert [jump(k, 10) for k in range(10)] == [0, 6, 6, 8, 1, 4, 9, 0, 4, 7]
    assert jump(0xDEADBEEF, 1000) == 285
    assert jump(2 ** 64 - 1, 1) == 0


@given(st.one_of(st.integers(0, 2 ** 64 - 1), st.text(max_size=20), st.binary(max_size=20)),
       st.integers(1, 5000))
def test_jump_hash_same_in_both_and_moves_only_to_new_bucket(impl, key, n):
    from fastcache._py import hashing as pure
    b = impl.hashing.jump_hash(key, n)
    assert b == pure.jump_hash(key, n)
    assert 0 <= b < n
    grown = impl.hashing.jump_hash(key, n + 1)
    assert grown in (b, n)          # a key either stays or moves to the new bucket


def test_hash_functions_reject_bad_input(impl):
    h = impl.hashing
    for fn in (h.ketama_hash, h.key_slot):
        with pytest.raises(TypeError, match="str or bytes"):
            fn(12)
        with pytest.raises(TypeError):
            fn(None)
    with pytest.raises(ValueError, match="positive"):
        h.jump_hash(1, 0)
    with pytest.raises(ValueError, match="range"):
        h.jump_hash(-1, 10)
    with pytest.raises(ValueError, match="range"):
        h.jump_hash(2 ** 64, 10)
    with pytest.raises(TypeError):
        h.jump_hash(1.5, 10)
    with pytest.raises(TypeError):
        h.jump_hash(1, "10")


# -- the ring ---------------------------------------------------------------

def test_matches_uhashring_ketama(impl):
    nodes = [f"10.0.0.{i}:6379" for i in range(10)]
    ours = impl.HashRing(nodes)
    theirs = uhashring.HashRing(nodes, hash_fn="ketama")
    assert [ours.get_node(k) for k in KEYS] == [theirs.get_node(k) for k in KEYS]
    assert sorted(h for h, _ in ours.points()) == theirs.runtime._keys


@pytest.mark.parametrize("weights", [{"a": 3, "b": 1, "c": 2}, {"x": 1, "y": 7},
                                     {f"n{i}": i + 1 for i in range(7)}])
def test_weighted_matches_uhashring_and_libmemcached(impl, weights):
    ours = impl.HashRing(weights)
    theirs = uhashring.HashRing({k: {"weight": w} for k, w in weights.items()}, hash_fn="ketama")
    reference = libmemcached_continuum(weights)
    assert len(ours.points()) == len(reference)
    assert [h for h, _ in ours.points()] == [h for h, _ in reference]
    got = [ours.get_node(k) for k in KEYS]
    assert got == [theirs.get_node(k) for k in KEYS]
    assert got == [libmemcached_lookup(reference, k) for k in KEYS]


def test_documented_edge_hash_equal_to_a_point(impl):
    # A key whose hash *is* a point: libmemcached (and we) take that point
    # (lower bound); uhashring's bisect_right takes the next one.  The key
    # "node0-0" hashes to the first point of node0 by construction.
    nodes = [f"node{i}" for i in range(10)]
    ours = impl.HashRing(nodes)
    h = impl.hashing.ketama_hash("node0-0")
    assert (h, "node0") in ours.points()
    assert ours.get_node("node0-0") == "node0"
    assert ours.get_node("node0-0") == libmemcached_lookup(libmemcached_continuum(dict.fromkeys(nodes, 1)),
                                                           "node0-0")
    assert uhashring.HashRing(nodes, hash_fn="ketama").get_node("node0-0") != "node0"


def test_compiled_and_pure_agree(impl):
    from fastcache._py.hashring import HashRing as Pure
    nodes = {f"shard-{i}": (i % 3) + 1 for i in range(13)}
    a, b = impl.HashRing(nodes), Pure(nodes)
    assert a.points() == b.points()
    assert [a.get_node(k) for k in KEYS] == [b.get_node(k) for k in KEYS]
    assert a.partition(KEYS[:500]) == b.partition(KEYS[:500])


def test_growing_ten_to_eleven_moves_about_one_eleventh(impl):
    ring = impl.HashRing([f"node{i}" for i in range(10)])
    before = [ring.get_node(k) for k in KEYS]
    ring.add_node("node10")
    after = [ring.get_node(k) for k in KEYS]
    moved = [(b, a) for b, a in zip(before, after) if b != a]
    assert all(a == "node10" for _, a in moved)          # keys only move to the new node
    assert len(moved) / len(KEYS) <= 1 / 11 + 0.01
    ring.remove_node("node10")
    assert [ring.get_node(k) for k in KEYS] == before     # and come back on removal


def test_spread_over_ten_nodes(impl):
    ring = impl.HashRing([f"node{i}" for i in range(10)])
    counts = {n: 0 for n in ring.nodes}
    for k in (f"k{i}" for i in range(100_000)):
        counts[ring.get_node(k)] += 1
    assert max(counts.values()) / (100_000 / 10) <= 1.15


def test_api(impl):
    ring = impl.HashRing()
    assert len(ring) == 0 and ring.nodes == ()
    with pytest.raises(LookupError, match="no nodes"):
        ring.get_node("k")
    with pytest.raises(LookupError):
        ring.partition(["k"])
    ring.add_node("a")
    ring.add_node("b", weight=2)
    assert ring.nodes == ("a", "b") and list(ring) == ["a", "b"] and "a" in ring and "z" not in ring
    assert ring.weights == {"a": 1, "b": 2}
    # floor(share * 40 * 2) * 4 points each: a 26 * 4, b 53 * 4
    assert len(ring.points()) == 104 + 212
    assert sum(1 for _, n in ring.points() if n == "a") == 104
    assert all(ring.get_node(k) in ("a", "b") for k in KEYS[:100])
    ring.add_node("a", weight=2)                   # re-adding changes the weight
    assert ring.weights == {"a": 2, "b": 2} and len(ring.points()) == 320
    parts = ring.partition(["k1", "k2", "k3", b"k4"])
    assert set(parts) <= {"a", "b"}
    assert sorted((k for ks in parts.values() for k in ks), key=repr) == sorted(
        ["k1", "k2", "k3", b"k4"], key=repr)
    for node, ks in parts.items():
        assert all(ring.get_node(k) == node for k in ks)
    ring.remove_node("a")
    assert ring.nodes == ("b",) and {ring.get_node(k) for k in KEYS[:50]} == {"b"}
    with pytest.raises(KeyError):
        ring.remove_node("a")
    assert ring.get_node_for_hash(0) == "b" and ring.get_node_for_hash(2 ** 32 - 1) == "b"
    with pytest.raises(ValueError):
        ring.get_node_for_hash(2 ** 32)
    assert repr(ring) == "HashRing({'b': 2}, points_per_node=160)"


def test_bad_input(impl):
    with pytest.raises(TypeError, match="name must be str"):
        impl.HashRing([1, 2])
    with pytest.raises(TypeError, match="not a string"):
        impl.HashRing("abc")
    with pytest.raises(ValueError, match="positive"):
        impl.HashRing({"a": 0})
    with pytest.raises(TypeError, match="weight must be int"):
        impl.HashRing({"a": 1.5})
    with pytest.raises(ValueError, match="multiple of 4"):
        impl.HashRing(["a"], points_per_node=10)
    ring = impl.HashRing(["a", "b"])
    with pytest.raises(TypeError, match="str or bytes"):
        ring.get_node(42)
    with pytest.raises(TypeError):
        ring.add_node(b"c")
    with pytest.raises(ValueError):
        ring.add_node("c", weight=-1)
    assert ring.nodes == ("a", "b")                # a refused change leaves the ring as it was
    assert ring.get_node("x") in ("a", "b")


def test_points_per_node_and_pickle(impl):
    ring = impl.HashRing({"a": 1, "b": 3}, points_per_node=40)
    assert len(ring.points()) == 4 * ((10 * 2 * 1) // 4) + 4 * ((10 * 2 * 3) // 4)
    clone = pickle.loads(pickle.dumps(ring))
    assert clone == ring and clone.points() == ring.points()
    assert ring != impl.HashRing({"a": 1, "b": 3})


def test_memo_is_invalidated_and_exact(impl):
    # The compiled ring remembers recent str keys; the answer must track
    # ring changes and never confuse two keys that share a memo slot.
    ring = impl.HashRing([f"n{i}" for i in range(5)])
    from fastcache._py.hashring import HashRing as Pure
    ref = Pure([f"n{i}" for i in range(5)])
    for _ in range(2):
        assert [ring.get_node(k) for k in KEYS] == [ref.get_node(k) for k in KEYS]
    for change in (lambda r: r.add_node("n5"), lambda r: r.remove_node("n0"),
                   lambda r: r.add_node("n1", weight=4)):
        change(ring)
        change(ref)
        assert [ring.get_node(k) for k in KEYS[:3000]] == [ref.get_node(k) for k in KEYS[:3000]]

    class S(str):
        def __hash__(self):               # a str subclass is not memoised on its hash
            return 0
    assert ring.get_node(S("user:1")) == ref.get_node("user:1")


def test_memo_releases_keys(impl):
    ring = impl.HashRing(["a", "b"])
    key = "".join(["some", "-key"])
    base = sys.getrefcount(key)
    for _ in range(1000):
        ring.get_node(key)
    assert sys.getrefcount(key) <= base + 1
    ring.add_node("c")                      # a rebuild forgets the memo
    assert sys.getrefcount(key) == base
    ring.get_node(key)
    del ring
    gc.collect()
    assert sys.getrefcount(key) == base


# -- stateful: compiled, pure and the libmemcached reference, step by step ---

from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule  # noqa: E402


class RingMachine(RuleBasedStateMachine):
    """Random add/remove/reweigh sequences; every lookup compared three ways."""

    @initialize()
    def start(self):
        from fastcache._impl import CHashRing
        from fastcache._py.hashring import HashRing as Pure
        self.rings = [Pure()] + ([CHashRing()] if CHashRing is not None else [])
        self.weights: dict[str, int] = {}

    @rule(name=st.sampled_from([f"n{i}" for i in range(8)]), weight=st.integers(1, 4))
    def add(self, name, weight):
        for r in self.rings:
            r.add_node(name, weight)
        self.weights[name] = weight

    @rule(name=st.sampled_from([f"n{i}" for i in range(8)]))
    def remove(self, name):
        for r in self.rings:
            if name in self.weights:
                r.remove_node(name)
            else:
                with pytest.raises(KeyError):
                    r.remove_node(name)
        self.weights.pop(name, None)

    @rule(key=st.text(max_size=12))
    def lookup(self, key):
        if not self.weights:
            for r in self.rings:
                with pytest.raises(LookupError):
                    r.get_node(key)
            return
        expected = libmemcached_lookup(libmemcached_continuum(self.weights), key)
        for r in self.rings:
            assert r.get_node(key) == expected

    @invariant()
    def same_nodes(self):
        for r in self.rings:
            assert list(r.nodes) == list(self.weights) and r.weights == self.weights


RingMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
TestRingMachine = RingMachine.TestCase
