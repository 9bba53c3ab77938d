"""Types of the compiled module: the same as its pure-Python twin."""
from fastcache._py.tiered import L1Entry as L1Entry
from fastcache._py.tiered import TieredFront as TieredFront
from fastcache._py.tiered import _MISSING as _MISSING

__all__ = ("L1Entry", "TieredFront", "_MISSING")
