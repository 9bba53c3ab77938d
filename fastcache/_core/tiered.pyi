"""Types of the compiled module: the same as its pure-Python twin."""
from fastcache._py.tiered import L1Entry as L1Entry
from fastcache._py.tiered import TieredFront as TieredFront

__all__ = ("L1Entry", "TieredFront")
