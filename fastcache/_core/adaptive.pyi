"""Types of the compiled module: the same as its pure-Python twin."""
from fastcache._py.adaptive import AdaptiveCache as AdaptiveCache

__all__ = ("AdaptiveCache",)
