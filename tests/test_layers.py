"""No module imports from a layer above its own (every import, also inside functions).

The layers, lowest first (docs/architecture.md, "Sync and asyncio: one source"):

    base      rules and utilities every layer may use (types, keys, clock, errors,
              protocols, wire codecs, single-flight, loading, serializers, tags)
    core      the caches: compiled (_core), pure twins (_py), the dispatcher (_impl)
    redis     the Redis tier
    tiered    L1 in front of L2
    patterns  cache-aside, write-behind ..., the decorators, simulation
    http      the HTTP and CDN layer

The package's front door (``fastcache/__init__.py``), the command line and the
benchmark harness sit above all of them.  Read statically (``ast`` for Python,
the import lines of the Cython sources), so an import hidden in a function
body counts as much as one at the top.
"""
from __future__ import annotations

import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent      # the repository's sources, wherever installed
PACKAGE = ROOT / "fastcache"
CYTHON = ROOT / "src_c" / "fastcache"

LAYERS = {
    "base": ("fastcache._types", "fastcache._clock", "fastcache.keys", "fastcache._weakself",
             "fastcache.singleflight", "fastcache._concurrency", "fastcache.errors", "fastcache.protocols",
             "fastcache._async_l2", "fastcache._sync_l2",
             "fastcache._wire", "fastcache.loading", "fastcache.serializers", "fastcache.tags",
             "fastcache.breaker"),
    "core": ("fastcache._core", "fastcache._py", "fastcache._impl"),
    "redis": ("fastcache.redis",),
    "tiered": ("fastcache._tiered_logic", "fastcache._async_tiered", "fastcache._sync_tiered",
               "fastcache.tiered"),
    "patterns": ("fastcache.patterns", "fastcache.decorators", "fastcache._method", "fastcache.simulate",
                 "fastcache.traces"),
    "http": ("fastcache.http",),
    "front door": ("fastcache", "fastcache.__main__", "fastcache.cli", "fastcache._bench"),
}
ORDER = list(LAYERS)


def layer_of(module: str) -> str:
    best = ""
    for layer, prefixes in LAYERS.items():
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > len(best):
                best, found = p, layer
    if not best:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")
    return found


def module_name(path: pathlib.Path, base: pathlib.Path) -> str:
    parts = list(path.relative_to(base.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def is_module(name: str) -> bool:
    rel = pathlib.Path(*name.split("."))
    return any((ROOT / rel).with_suffix(s).exists() for s in (".py",)) or (ROOT / rel / "__init__.py").exists() \
        or (CYTHON.parent / rel).with_suffix(".pyx").exists()


def python_imports(path: pathlib.Path, module: str) -> list[tuple[int, str]]:
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:            # "from . import x" imports the module fastcache.x
                sub = f"{target}.{alias.name}"
                found.append((node.lineno, sub if is_module(sub) else target))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names)
    return [(line, t) for line, t in found if t == "fastcache" or t.startswith("fastcache.")]


_CYTHON_IMPORT = re.compile(r"^\s*(?:from\s+(fastcache[\w.]*)\s+c?import|c?import\s+(fastcache[\w.]*))", re.M)


def cython_imports(path: pathlib.Path) -> list[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(1) or m.group(2)) for m in _CYTHON_IMPORT.finditer(text)]


def all_imports() -> list[tuple[str, int, str]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path, PACKAGE)
        out.extend((module, line, target) for line, target in python_imports(path, module))
    for path in sorted(CYTHON.rglob("*.pyx")) + sorted(CYTHON.rglob("*.pxd")):
        module = module_name(path, CYTHON)
        out.extend((module, line, target) for line, target in cython_imports(path))
    return out


def test_every_module_is_in_a_layer():
    for path in PACKAGE.rglob("*.py"):
        layer_of(module_name(path, PACKAGE))


def test_no_module_imports_from_a_layer_above_its_own():
    upward = []
    for module, line, target in all_imports():
        mine, theirs = ORDER.index(layer_of(module)), ORDER.index(layer_of(target))
        if theirs > mine:
            upward.append(f"{module}:{line} ({ORDER[mine]}) imports {target} ({ORDER[theirs]})")
    assert upward == []


def test_the_check_sees_imports_inside_functions(tmp_path):
    probe = tmp_path / "fastcache" / "probe.py"
    probe.parent.mkdir()
    probe.write_text("def f():\n    from .patterns import cache_aside\n")
    assert python_imports(probe, "fastcache.probe") == [(2, "fastcache.patterns.cache_aside")]


def test_the_cython_sources_are_read():
    assert any(module.startswith("fastcache._core") for module, _, _ in all_imports())
