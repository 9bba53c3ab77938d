"""fastcache: C-accelerated in-process caches, drop-in compatible with cachetools.

``LRUCache``, ``LFUCache``, ``FIFOCache`` and ``TTLCache`` are compiled
(Cython) mutable mappings following cachetools' semantics; ``AdaptiveCache``
(W-TinyLFU with a self-tuning window) picks its evictions by itself; ``lru_cache``
follows ``functools.lru_cache``, ``cached``/``cachedmethod`` follow
cachetools.  ``TieredCache``/``AsyncTieredCache`` put one of them in front
of Redis (``fastcache.redis``); ``HashRing`` (ketama), ``jump_hash`` and
``key_slot`` (Redis Cluster) route keys to shards.  Set
``FASTCACHE_NO_EXTENSIONS=1`` to use the pure-Python twins.
"""
from __future__ import annotations

import os as _os
import warnings as _warnings

if any(_name.startswith("_lrucache") for _name in _os.listdir(_os.path.dirname(__file__))):
    # The unrelated PyPI project "fastcache" (1.1.0, a C lru_cache) installs into the same
    # folder; uninstalling it later would delete this package's files too.
    _warnings.warn("the unrelated PyPI package 'fastcache' is installed in the same place as "
                   "fastcache-tiered; run `pip uninstall -y fastcache fastcache-tiered && "
                   "pip install fastcache-tiered`", RuntimeWarning, stacklevel=2)

from . import keys  # noqa: E402
from ._impl import (USING_EXTENSIONS, AdaptiveCache, FIFOCache, HashRing, LFUCache, LRUCache, TTLCache, Timer,
                    jump_hash, ketama_hash, key_slot)
from ._types import CacheInfo, CacheStats, RemovalCause
from .decorators import cached, cachedmethod, lru_cache
from .tiered import AsyncTieredCache, TieredCache, TieredStats

__version__ = "0.1.0"

__all__ = (
    "LRUCache",
    "LFUCache",
    "FIFOCache",
    "TTLCache",
    "AdaptiveCache",
    "Timer",
    "lru_cache",
    "cached",
    "cachedmethod",
    "keys",
    "HashRing",
    "TieredCache",
    "AsyncTieredCache",
    "TieredStats",
    "jump_hash",
    "ketama_hash",
    "key_slot",
    "RemovalCause",
    "CacheStats",
    "CacheInfo",
    "USING_EXTENSIONS",
)
