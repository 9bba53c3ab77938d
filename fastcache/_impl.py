"""Choose the compiled classes or their pure-Python twins.

``FASTCACHE_NO_EXTENSIONS=1`` (or a non-CPython interpreter) selects the
pure-Python classes.  Both sets stay importable by name (``CLRUCache``,
``PyLRUCache``, ...) so tests can reach each; the C names are None when the
extension is not built.  Type checkers always see the typed Python classes.
"""
from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any, Optional

from ._py._functools import CachedInfoWrapper as PyCachedInfoWrapper
from ._py.adaptive import AdaptiveCache as PyAdaptiveCache
from ._py._functools import CachedWrapper as PyCachedWrapper
from ._py._functools import LRUCacheWrapper as PyLRUCacheWrapper
from ._py.fifo import FIFOCache as PyFIFOCache
from ._py.hashing import jump_hash as py_jump_hash
from ._py.hashing import ketama_hash as py_ketama_hash
from ._py.hashing import key_slot as py_key_slot
from ._py.hashring import HashRing as PyHashRing
from ._py.lfu import LFUCache as PyLFUCache
from ._py.lru import LRUCache as PyLRUCache
from ._py.aside import AsideFront as PyAsideFront
from ._py.aside import CachedCall as PyCachedCall
from ._py.aside import Completed as PyCompleted
from ._py.http_hit import PlainHits as PyPlainHits
from ._py.write_queue import WriteQueue as PyWriteQueue
from ._py.tiered import L1Entry as PyL1Entry
from ._py.tiered import TieredFront as PyTieredFront
from ._py._timer import Timer as PyTimer
from ._py.ttl import TTLCache as PyTTLCache

NO_EXTENSIONS = os.environ.get("FASTCACHE_NO_EXTENSIONS", "") not in ("", "0") or (
    sys.implementation.name != "cpython")



def _load_compiled() -> dict[str, Any]:
    names = {"CLRUCache": ("lru", "LRUCache"), "CFIFOCache": ("fifo", "FIFOCache"),
             "CLFUCache": ("lfu", "LFUCache"), "CAdaptiveCache": ("adaptive", "AdaptiveCache"), "CTTLCache": ("ttl", "TTLCache"),
             "CTimer": ("_timer", "Timer"), "CLRUCacheWrapper": ("_functools", "LRUCacheWrapper"),
             "CCachedWrapper": ("_functools", "CachedWrapper"),
             "CCachedInfoWrapper": ("_functools", "CachedInfoWrapper"),
             "CHashRing": ("hashring", "HashRing"), "c_jump_hash": ("hashing", "jump_hash"),
             "c_ketama_hash": ("hashing", "ketama_hash"), "c_key_slot": ("hashing", "key_slot"),
             "CTieredFront": ("tiered", "TieredFront"), "CL1Entry": ("tiered", "L1Entry"),
             "CAsideFront": ("aside", "AsideFront"), "CCompleted": ("aside", "Completed"),
             "CCachedCall": ("aside", "CachedCall"), "CPlainHits": ("http_hit", "PlainHits"),
             "CWriteQueue": ("write_queue", "WriteQueue")}
    return {alias: getattr(importlib.import_module("fastcache._core." + mod), attr)
            for alias, (mod, attr) in names.items()}


EXTENSION_ERROR: Optional[ImportError] = None
try:
    _compiled = _load_compiled()
except ImportError as exc:      # not built (pure wheel, or a source checkout)
    EXTENSION_ERROR = exc
    _compiled = {}

CLRUCache: Any = _compiled.get("CLRUCache")
CFIFOCache: Any = _compiled.get("CFIFOCache")
CLFUCache: Any = _compiled.get("CLFUCache")
CAdaptiveCache: Any = _compiled.get("CAdaptiveCache")
CTTLCache: Any = _compiled.get("CTTLCache")
CTimer: Any = _compiled.get("CTimer")
CLRUCacheWrapper: Any = _compiled.get("CLRUCacheWrapper")
CCachedWrapper: Any = _compiled.get("CCachedWrapper")
CCachedInfoWrapper: Any = _compiled.get("CCachedInfoWrapper")
CHashRing: Any = _compiled.get("CHashRing")
c_jump_hash: Any = _compiled.get("c_jump_hash")
c_ketama_hash: Any = _compiled.get("c_ketama_hash")
c_key_slot: Any = _compiled.get("c_key_slot")
CTieredFront: Any = _compiled.get("CTieredFront")
CL1Entry: Any = _compiled.get("CL1Entry")
CAsideFront: Any = _compiled.get("CAsideFront")
CCompleted: Any = _compiled.get("CCompleted")
CCachedCall: Any = _compiled.get("CCachedCall")
CPlainHits: Any = _compiled.get("CPlainHits")
CWriteQueue: Any = _compiled.get("CWriteQueue")

if TYPE_CHECKING or NO_EXTENSIONS or CLRUCache is None:
    LRUCache = PyLRUCache
    FIFOCache = PyFIFOCache
    LFUCache = PyLFUCache
    AdaptiveCache = PyAdaptiveCache
    TTLCache = PyTTLCache
    Timer = PyTimer
    LRUCacheWrapper = PyLRUCacheWrapper
    CachedWrapper = PyCachedWrapper
    CachedInfoWrapper = PyCachedInfoWrapper
    HashRing = PyHashRing
    jump_hash = py_jump_hash
    ketama_hash = py_ketama_hash
    key_slot = py_key_slot
    TieredFront = PyTieredFront
    L1Entry = PyL1Entry
    AsideFront = PyAsideFront
    Completed = PyCompleted
    CachedCall = PyCachedCall
    PlainHits = PyPlainHits
    WriteQueue = PyWriteQueue
    USING_EXTENSIONS = False
else:
    LRUCache = CLRUCache
    FIFOCache = CFIFOCache
    LFUCache = CLFUCache
    AdaptiveCache = CAdaptiveCache
    TTLCache = CTTLCache
    Timer = CTimer
    LRUCacheWrapper = CLRUCacheWrapper
    CachedWrapper = CCachedWrapper
    CachedInfoWrapper = CCachedInfoWrapper
    HashRing = CHashRing
    jump_hash = c_jump_hash
    ketama_hash = c_ketama_hash
    key_slot = c_key_slot
    TieredFront = CTieredFront
    L1Entry = CL1Entry
    AsideFront = CAsideFront
    Completed = CCompleted
    CachedCall = CCachedCall
    PlainHits = CPlainHits
    WriteQueue = CWriteQueue
    USING_EXTENSIONS = True
