"""Choose the compiled classes or their pure-Python twins.

``FASTCACHE_NO_EXTENSIONS=1`` (or a non-CPython interpreter) selects the
pure-Python classes.  Both sets stay importable by name (``CLRUCache``,
``PyLRUCache``, ...) so tests can reach each; the C names are None when the
extension is not built.  Type checkers always see the typed Python classes.
"""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from ._py._functools import LRUCacheWrapper as PyLRUCacheWrapper
from ._py.fifo import FIFOCache as PyFIFOCache
from ._py.lfu import LFUCache as PyLFUCache
from ._py.lru import LRUCache as PyLRUCache
from ._py.ttl import Timer as PyTimer
from ._py.ttl import TTLCache as PyTTLCache

NO_EXTENSIONS = os.environ.get("FASTCACHE_NO_EXTENSIONS", "") not in ("", "0") or (
    sys.implementation.name != "cpython")

CLRUCache: Any = None
CFIFOCache: Any = None
CLFUCache: Any = None
CTTLCache: Any = None
CTimer: Any = None
CLRUCacheWrapper: Any = None
EXTENSION_ERROR: "ImportError | None" = None

try:
    from ._core._functools import LRUCacheWrapper as CLRUCacheWrapper
    from ._core.fifo import FIFOCache as CFIFOCache
    from ._core.lfu import LFUCache as CLFUCache
    from ._core.lru import LRUCache as CLRUCache
    from ._core.ttl import Timer as CTimer
    from ._core.ttl import TTLCache as CTTLCache
except ImportError as exc:      # not built (pure wheel, or a source checkout)
    EXTENSION_ERROR = exc

if TYPE_CHECKING or NO_EXTENSIONS or CLRUCache is None:
    LRUCache = PyLRUCache
    FIFOCache = PyFIFOCache
    LFUCache = PyLFUCache
    TTLCache = PyTTLCache
    Timer = PyTimer
    LRUCacheWrapper = PyLRUCacheWrapper
    USING_EXTENSIONS = False
else:
    LRUCache = CLRUCache
    FIFOCache = CFIFOCache
    LFUCache = CLFUCache
    TTLCache = CTTLCache
    Timer = CTimer
    LRUCacheWrapper = CLRUCacheWrapper
    USING_EXTENSIONS = True
