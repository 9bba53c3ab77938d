"""Types of the compiled module: the same as its pure-Python twin."""
from fastcache._py.http_hit import PlainHits as PlainHits

__all__ = ("PlainHits",)
