"""LRU cache with per-item time-to-live (pure Python twin of ``fastcache._core.ttl``)."""
from __future__ import annotations

import time as _time
from typing import Any, Callable, Optional, Union

from .._types import TTL_TYPE_ERROR, RemovalCause
from ._ordered import OrderedTable
from ._table import KT, VT
from ._timer import Timer

__all__ = ("TTLCache", "Timer")


class TTLCache(OrderedTable[KT, VT]):
    """LRU cache whose items expire: a drop-in for ``cachetools.TTLCache``.

    An item stored at time ``t`` lives while ``timer() < t + ttl``;
    ``set(key, value, ttl=...)`` gives one item its own TTL.  Expired items
    are never returned, counted or iterated, and are removed by ``expire()``.
    Structure: ``LRUCache`` (a dict and an OrderedDict in use order) with the
    table's expiry layer always on (:class:`~fastcache._py._expiry.Expiry`).
    """

    __slots__ = ()

    def __init__(self, maxsize: Union[int, float], ttl: Any,
                 timer: Callable[[], Any] = _time.monotonic,
                 getsizeof: Optional[Callable[[Any], int]] = None, *,
                 on_evict: Optional[Callable[[Any, Any, RemovalCause], object]] = None) -> None:
        self._init_from_params({"maxsize": maxsize, "ttl": ttl, "timer": timer,
                                "getsizeof": getsizeof, "on_evict": on_evict})

    def _init_from_params(self, params: dict[str, Any]) -> None:
        if params["ttl"] is None:
            raise TypeError(TTL_TYPE_ERROR % ("ttl", "NoneType"))
        self._init_table(params["maxsize"], params["getsizeof"], params["on_evict"])
        self._init_expiry(params["timer"], params["ttl"])
        self._expiring = True           # also with ttl=inf: every read checks the deadlines

    _on_access = OrderedTable._on_update

    def __getitem__(self, key: KT) -> VT:
        with self._lock:
            if key in self._data:
                self._order.move_to_end(key)    # cachetools counts the use even if expired
                if self._live(key):
                    self._hits += 1
                    return self._data[key]  # type: ignore[no-any-return]
            self._misses += 1
        return self.__missing__(key)
