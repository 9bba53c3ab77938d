"""Types of the compiled module: the same as its pure-Python twin."""
from fastcache._py.hash_lru import HashLRU as HashLRU

__all__ = ("HashLRU",)
