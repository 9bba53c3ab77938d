"""The documentation's Python examples run, so the docs cannot drift from the code.

Every ```python block of docs/*.md and README.md runs, the blocks of one page in order
in one namespace, against a real redis-server (the examples' ``redis://localhost:6379``
is pointed at the test server).  A block that cannot run on its own says why, on the
line before it: ``<!-- not run: <reason> -->``.
"""
from __future__ import annotations

import ast
import asyncio
import inspect
import pathlib
import re
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
BLOCK = re.compile(r"(?:<!-- not run: (?P<reason>[^>]+?) -->\n)?```python\n(?P<code>.*?)```", re.S)


def blocks(page: pathlib.Path) -> list[tuple[int, str, str]]:
    """(line, code, reason for not running or "") per python block."""
    text = page.read_text()
    return [(text.count("\n", 0, m.start()) + 1, m.group("code"), m.group("reason") or "")
            for m in BLOCK.finditer(text)]


def test_every_page_is_checked() -> None:
    assert (ROOT / "docs" / "index.md").exists() and len(PAGES) > 10
    assert sum(len(blocks(p)) for p in PAGES) >= 10


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: p.name)
def test_examples_run(page: pathlib.Path, redis_url: str, monkeypatch: Any, tmp_path: Any) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    loop = asyncio.new_event_loop()                          # one loop per page: top-level await works
    ran = 0
    for line, code, reason in blocks(page):
        if reason:
            continue
        source = code.replace("redis://localhost:6379/0", redis_url).replace("redis://localhost:6379", redis_url)
        try:
            result = eval(compile(source, f"{page.name}:{line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT),
                          namespace)
            if inspect.iscoroutine(result):
                loop.run_until_complete(result)
        except Exception as exc:
            raise AssertionError(f"the example at {page.name}:{line} fails: {type(exc).__name__}: {exc}") from exc
        ran += 1
    for value in list(namespace.values()):                  # stop what the examples started
        close = getattr(value, "close", None)
        if callable(close) and type(value).__module__.startswith("fastcache") and not isinstance(value, type):
            try:
                result = close()
                if hasattr(result, "__await__"):
                    result.close()
            except Exception:
                pass
    loop.close()
    assert ran > 0
