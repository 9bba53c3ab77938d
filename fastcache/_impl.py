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
from ._py._functools import CachedWrapper as PyCachedWrapper
from ._py._functools import LRUCacheWrapper as PyLRUCacheWrapper
from ._py.fifo import FIFOCache as PyFIFOCache
from ._py.lfu import LFUCache as PyLFUCache
from ._py.lru import LRUCache as PyLRUCache
from ._py.ttl import Timer as PyTimer
from ._py.ttl import TTLCache as PyTTLCache

NO_EXTENSIONS = os.environ.get("FASTCACHE_NO_EXTENSIONS", "") not in ("", "0") or (
    sys.implementation.name != "cpython")



def _load_compiled() -> dict[str, Any]:
    names = {"CLRUCache": ("lru", "LRUCache"), "CFIFOCache": ("fifo", "FIFOCache"),
             "CLFUCache": ("lfu", "LFUCache"), "CTTLCache": ("ttl", "TTLCache"),
             "CTimer": ("ttl", "Timer"), "CLRUCacheWrapper": ("_functools", "LRUCacheWrapper"),
             "CCachedWrapper": ("_functools", "CachedWrapper"),
             "CCachedInfoWrapper": ("_functools", "CachedInfoWrapper")}
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
CTTLCache: Any = _compiled.get("CTTLCache")
CTimer: Any = _compiled.get("CTimer")
CLRUCacheWrapper: Any = _compiled.get("CLRUCacheWrapper")
CCachedWrapper: Any = _compiled.get("CCachedWrapper")
CCachedInfoWrapper: Any = _compiled.get("CCachedInfoWrapper")

if TYPE_CHECKING or NO_EXTENSIONS or CLRUCache is None:
    LRUCache = PyLRUCache
    FIFOCache = PyFIFOCache
    LFUCache = PyLFUCache
    TTLCache = PyTTLCache
    Timer = PyTimer
    LRUCacheWrapper = PyLRUCacheWrapper
    CachedWrapper = PyCachedWrapper
    CachedInfoWrapper = PyCachedInfoWrapper
    USING_EXTENSIONS = False
else:
    LRUCache = CLRUCache
    FIFOCache = CFIFOCache
    LFUCache = CLFUCache
    TTLCache = CTTLCache
    Timer = CTimer
    LRUCacheWrapper = CLRUCacheWrapper
    CachedWrapper = CCachedWrapper
    CachedInfoWrapper = CCachedInfoWrapper
    USING_EXTENSIONS = True
