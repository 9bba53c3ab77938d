"""Types of the compiled module: the same as its pure-Python twin."""
from fastcache._py.lfu import LFUCache as LFUCache

__all__ = ("LFUCache",)
