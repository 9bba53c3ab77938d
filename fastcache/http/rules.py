"""Route rules: path prefixes to Cache-Control policies, like location blocks.

::

    rules = RouteRules({
        "/static/": "static",                   # a preset by name
        "/api/": SHARED_DYNAMIC,
        "/api/me": "private",
        "= /health": "no-store",                # exact path only
    })
    rules.match("/api/me/orders")               # PRIVATE: the longest matching prefix wins

As in nginx, an exact rule (``"= /path"``) beats every prefix, and among
prefixes the longest match wins whatever the order they were given in.  A
prefix matches at any character (``"/api"`` matches ``"/apiary"``); end it
with ``/`` to match a directory.  The middleware applies the matched policy
to responses that carry no ``Cache-Control`` of their own, or to every
response with ``override=True``.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Optional, Union

from .cache_control import PRESETS, CacheControl

__all__ = ("RouteRules", "PolicyLike")

PolicyLike = Union[CacheControl, str]


def as_policy(policy: PolicyLike) -> CacheControl:
    """A CacheControl from itself, a preset name, or a header value."""
    if isinstance(policy, CacheControl):
        return policy
    if isinstance(policy, str):
        preset = PRESETS.get(policy)
        return preset if preset is not None else CacheControl.parse(policy)
    raise TypeError(f"a policy is a CacheControl, a preset name {sorted(PRESETS)} or a header value, "
                    f"not {type(policy).__name__}")


class RouteRules:
    """Longest-prefix (and exact-path) rules mapping request paths to policies."""

    def __init__(self, rules: Union[Mapping[str, PolicyLike], Iterable[tuple[str, PolicyLike]], None] = None,
                 *, override: bool = False) -> None:
        self.override = override
        self._exact: dict[str, CacheControl] = {}
        self._prefixes: list[tuple[str, CacheControl]] = []
        items = rules.items() if isinstance(rules, Mapping) else (rules or ())
        for pattern, policy in items:
            self.add(pattern, policy)

    def add(self, pattern: str, policy: PolicyLike) -> None:
        """Add a rule: ``"/prefix"`` or ``"= /exact/path"``."""
        if not isinstance(pattern, str):
            raise TypeError(f"a route pattern is a str, not {type(pattern).__name__}")
        exact = pattern.startswith("=")
        path = pattern[1:].strip() if exact else pattern
        if not path.startswith("/"):
            raise ValueError(f"a route pattern starts with '/' (or '= /' for an exact path), got {pattern!r}")
        cc = as_policy(policy)
        if exact:
            self._exact[path] = cc
        else:
            self._prefixes = [(p, c) for p, c in self._prefixes if p != path] + [(path, cc)]
            self._prefixes.sort(key=lambda rule: len(rule[0]), reverse=True)

    def match(self, path: str) -> Optional[CacheControl]:
        """The policy for path, or None when no rule matches."""
        cc = self._exact.get(path)
        if cc is not None:
            return cc
        for prefix, cc in self._prefixes:
            if path.startswith(prefix):
                return cc
        return None

    def __len__(self) -> int:
        return len(self._exact) + len(self._prefixes)

    def __repr__(self) -> str:
        rules = [f"'= {p}': '{c}'" for p, c in self._exact.items()] + [f"'{p}': '{c}'" for p, c in self._prefixes]
        return f"RouteRules({{{', '.join(rules)}}}, override={self.override})"
