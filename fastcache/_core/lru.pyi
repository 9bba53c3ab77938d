"""Types of the compiled module: the same as its pure-Python twin."""
from fastcache._py.lru import LRUCache as LRUCache

__all__ = ("LRUCache",)
