"""Types of the compiled module: the same as its pure-Python twin."""
from fastcache._py._functools import CachedInfoWrapper as CachedInfoWrapper
from fastcache._py._functools import CachedWrapper as CachedWrapper
from fastcache._py._functools import LRUCacheWrapper as LRUCacheWrapper

__all__ = ("LRUCacheWrapper", "CachedWrapper", "CachedInfoWrapper")
