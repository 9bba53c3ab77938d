"""Pure-Python implementations, file for file the twins of ``fastcache._core``."""
