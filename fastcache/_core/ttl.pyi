"""Types of the compiled module: the same as its pure-Python twin."""
from fastcache._py.ttl import TTLCache as TTLCache

__all__ = ("TTLCache",)
