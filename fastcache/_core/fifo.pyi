"""Types of the compiled module: the same as its pure-Python twin."""
from fastcache._py.fifo import FIFOCache as FIFOCache

__all__ = ("FIFOCache",)
