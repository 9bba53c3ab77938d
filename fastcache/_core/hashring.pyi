"""Types of the compiled module: the same as its pure-Python twin."""
from fastcache._py.hashring import HashRing as HashRing

__all__ = ("HashRing",)
