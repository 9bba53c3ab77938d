"""Pure-Python twin of ``fastcache._core.hashring.HashRing``."""
from __future__ import annotations

import bisect
import hashlib
from typing import Iterable, Iterator, Mapping, Union

from .hashing import KeyBytes, ketama_hash


def _check_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"node name must be str, not {type(name).__name__}")
    return name


def _check_weight(weight: object) -> int:
    if isinstance(weight, bool) or not isinstance(weight, int):
        raise TypeError(f"node weight must be int, not {type(weight).__name__}")
    if weight <= 0:
        raise ValueError(f"node weight must be positive, got {weight}")
    return weight


class HashRing:
    """Consistent hashing of keys onto named nodes (ketama continuum).

    ``HashRing(["a:6379", "b:6379"])`` or ``HashRing({"a": 2, "b": 1})``
    (name -> integer weight).  Each node gets ``floor(share * ppn/4 *
    nodes) * 4`` points, the little-endian words of ``MD5(f"{name}-{i}")``;
    a key belongs to the first point at or after its hash, wrapping.
    """

    def __init__(self, nodes: Union[Iterable[str], Mapping[str, int]] = (), *,
                 points_per_node: int = 160) -> None:
        if isinstance(points_per_node, bool) or not isinstance(points_per_node, int):
            raise TypeError("points_per_node must be int")
        if points_per_node <= 0 or points_per_node % 4:
            raise ValueError(f"points_per_node must be a positive multiple of 4, got {points_per_node}")
        if isinstance(nodes, (str, bytes)):
            raise TypeError("nodes must be an iterable of names or a mapping name -> weight, not a string")
        self.points_per_node = points_per_node
        self._names: list[str] = []
        self._weights: dict[str, int] = {}
        self._hashes: list[int] = []
        self._owners: list[int] = []
        items = nodes.items() if isinstance(nodes, Mapping) else ((n, 1) for n in nodes)
        for name, weight in items:
            self._put(name, weight)
        self._rebuild()

    def _put(self, name: object, weight: object) -> None:
        """Record a node (validated); the continuum is rebuilt by the caller."""
        checked, w = _check_name(name), _check_weight(weight)
        if checked not in self._weights:
            self._names.append(checked)
        self._weights[checked] = w

    def _rebuild(self) -> None:
        n = len(self._names)
        weight_sum = sum(self._weights.values()) or 1
        groups = self.points_per_node // 4
        points: list[tuple[int, int]] = []
        for owner, name in enumerate(self._names):
            count = (groups * n * self._weights[name]) // weight_sum
            for j in range(count):
                digest = hashlib.md5(f"{name}-{j}".encode("utf-8")).digest()
                for w in range(4):
                    points.append((int.from_bytes(digest[4 * w:4 * w + 4], "little"), owner))
        points.sort()                       # equal points: the earlier node first
        self._hashes = [p[0] for p in points]
        self._owners = [p[1] for p in points]

    def _node_at(self, h: int) -> str:
        i = bisect.bisect_left(self._hashes, h)      # first point >= h
        if i == len(self._hashes):
            i = 0
        return self._names[self._owners[i]]

    def get_node(self, key: KeyBytes) -> str:
        """The node that owns ``key`` (``str`` as UTF-8, or ``bytes``)."""
        h = ketama_hash(key)
        if not self._hashes:
            raise LookupError("the ring has no nodes" if not self._names else
                              "the ring's weights give no node any points")
        return self._node_at(h)

    def get_node_for_hash(self, hash_value: int) -> str:
        """The node owning a 32-bit continuum position (for other key hashes)."""
        if not 0 <= hash_value < 2 ** 32:
            raise ValueError("hash_value must be in range(2**32)")
        if not self._hashes:
            raise LookupError("the ring has no nodes")
        return self._node_at(hash_value)

    def partition(self, keys: Iterable[KeyBytes]) -> dict[str, list[KeyBytes]]:
        """Group ``keys`` by node: ``{node: [key, ...]}``, keys in input order."""
        if not self._hashes:
            raise LookupError("the ring has no nodes")
        groups: dict[str, list[KeyBytes]] = {}
        for key in keys:
            groups.setdefault(self._node_at(ketama_hash(key)), []).append(key)
        return groups

    def add_node(self, name: str, weight: int = 1) -> None:
        """Add a node (or change the weight of one already there)."""
        self._put(name, weight)
        self._rebuild()

    def remove_node(self, name: str) -> None:
        """Remove a node; its keys move to their next points. KeyError if absent."""
        if name not in self._weights:
            raise KeyError(name)
        del self._weights[name]
        self._names.remove(name)
        self._rebuild()

    @property
    def nodes(self) -> tuple[str, ...]:
        """The node names, in the order they were added."""
        return tuple(self._names)

    @property
    def weights(self) -> dict[str, int]:
        """A copy of the ``{name: weight}`` mapping."""
        return dict(self._weights)

    def points(self) -> list[tuple[int, str]]:
        """The continuum as a sorted list of ``(hash, node)`` pairs."""
        return [(h, self._names[o]) for h, o in zip(self._hashes, self._owners)]

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._weights

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(self._names))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._weights!r}, points_per_node={self.points_per_node})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HashRing):
            return NotImplemented
        return (self._names == other._names and self._weights == other._weights
                and self.points_per_node == other.points_per_node)

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[object, tuple[dict[str, int], int]]:
        return (_restore, (dict(self._weights), self.points_per_node))


def _restore(weights: dict[str, int], points_per_node: int) -> HashRing:
    return HashRing(weights, points_per_node=points_per_node)
