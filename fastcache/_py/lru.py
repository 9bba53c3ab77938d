"""Least Recently Used cache (pure Python twin of ``fastcache._core.lru``)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Optional, Union

from .._types import RemovalCause
from ._table import KT, VT, Table, _marker

__all__ = ("LRUCache",)


class LRUCache(Table[KT, VT]):
    """Least Recently Used (LRU) cache: a drop-in for ``cachetools.LRUCache``.

    ``popitem()`` removes the least recently used item; ``cache[key]``,
    ``get`` and ``cache[key] = value`` count as uses, ``in`` and ``peek`` do
    not.  Structure: a dict plus an OrderedDict kept in use order.
    """

    __slots__ = ("_order",)
    _order: OrderedDict[Any, None]

    def __init__(self, maxsize: Union[int, float], getsizeof: Optional[Callable[[Any], int]] = None,
                 *, on_evict: Optional[Callable[[Any, Any, RemovalCause], object]] = None) -> None:
        self._init_table(maxsize, getsizeof, on_evict)

    def _on_insert(self, key: Any) -> None:
        self._order[key] = None

    def _on_update(self, key: Any) -> None:
        self._order.move_to_end(key)

    _on_access = _on_update

    def _on_remove(self, key: Any) -> None:
        del self._order[key]

    def _victim(self) -> Any:
        return next(iter(self._order), _marker)

    def _on_clear(self) -> None:
        self._order = OrderedDict()

    def _policy_state(self, positions: dict[Any, int]) -> Any:
        return [positions[k] for k in self._order]

    def _restore_policy(self, state: Any, keys: list[Any]) -> None:
        self._order = OrderedDict((keys[pos], None) for pos in state)
