"""Types of the compiled module: the same as its pure-Python twin."""
from fastcache._py.aside import AsideFront as AsideFront
from fastcache._py.aside import CachedCall as CachedCall
from fastcache._py.aside import Completed as Completed

__all__ = ("AsideFront", "CachedCall", "Completed")
