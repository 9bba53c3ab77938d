"""Generated from tests/_async by scripts/unasync.py."""
