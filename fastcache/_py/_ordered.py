"""Pure-Python twin of ``fastcache._core._ordered``: order kept by an OrderedDict.

The base of LRU (moves an entry to the end on every use) and FIFO (on writes only).
"""
from __future__ import annotations

import time as _time
from collections import OrderedDict
from typing import Any, Callable, Optional, Union

from .._types import RemovalCause
from ._table import KT, VT, Table, _marker

__all__ = ("OrderedTable",)


class OrderedTable(Table[KT, VT]):
    """A table whose eviction order is an OrderedDict: the front is evicted first."""

    __slots__ = ("_order",)
    _order: OrderedDict[Any, None]

    def __init__(self, maxsize: Union[int, float], getsizeof: Optional[Callable[[Any], int]] = None,
                 *, timer: Callable[[], Any] = _time.monotonic,
                 on_evict: Optional[Callable[[Any, Any, RemovalCause], object]] = None) -> None:
        self._init_table(maxsize, getsizeof, on_evict)
        self._init_expiry(timer, None)

    def _on_insert(self, key: Any) -> None:
        self._order[key] = None

    def _on_update(self, key: Any) -> None:
        self._order.move_to_end(key)

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
