"""Types of the compiled module: the same as its pure-Python twin."""
from fastcache._py.write_queue import WriteQueue as WriteQueue

__all__ = ("WriteQueue",)
