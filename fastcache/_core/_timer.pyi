"""Types of the compiled module: the same as its pure-Python twin."""
from fastcache._py.ttl import Timer as Timer

__all__ = ("Timer",)
