"""Types of the compiled module: the same as its pure-Python twin."""
from fastcache._py._functools import LRUCacheWrapper as LRUCacheWrapper

__all__ = ("LRUCacheWrapper",)
