"""Which implementation fastcache's public names use."""
from __future__ import annotations

import os
import subprocess
import sys

import fastcache
from fastcache import _impl

from conftest import expect_extensions


def test_compiled_classes_in_use_when_expected() -> None:
    # CI sets FASTCACHE_EXPECT_EXTENSIONS=1 (and FASTCACHE_NO_EXTENSIONS for the
    # pure run): a broken build must fail here, not silently test Python twice.
    if os.environ.get("FASTCACHE_NO_EXTENSIONS", "") not in ("", "0"):
        assert not fastcache.USING_EXTENSIONS
        assert fastcache.LRUCache is _impl.PyLRUCache and fastcache.TTLCache is _impl.PyTTLCache
        return
    if expect_extensions():
        assert _impl.EXTENSION_ERROR is None, _impl.EXTENSION_ERROR
        assert fastcache.USING_EXTENSIONS
    if fastcache.USING_EXTENSIONS:
        for name in ("LRUCache", "FIFOCache", "LFUCache", "TTLCache", "AdaptiveCache", "HashRing"):
            cls = getattr(fastcache, name)
            assert cls is getattr(_impl, "C" + name)
            assert cls.__module__.startswith("fastcache._core.")


def test_env_var_selects_pure_python() -> None:
    code = ("import fastcache, sys; sys.exit(0 if fastcache.LRUCache.__module__ == "
            "'fastcache._py.lru' and not fastcache.USING_EXTENSIONS else 1)")
    env = dict(os.environ, FASTCACHE_NO_EXTENSIONS="1")
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


def test_both_implementations_importable_by_name() -> None:
    assert _impl.PyLRUCache.__module__ == "fastcache._py.lru"
    if _impl.CLRUCache is not None:
        assert _impl.CLRUCache.__module__ == "fastcache._core.lru"
