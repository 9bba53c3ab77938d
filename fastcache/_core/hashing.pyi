"""Types of the compiled module: the same as its pure-Python twin."""
from fastcache._py.hashing import jump_hash as jump_hash
from fastcache._py.hashing import ketama_hash as ketama_hash
from fastcache._py.hashing import key_slot as key_slot

__all__ = ("jump_hash", "ketama_hash", "key_slot")
