"""The ``Cache-Control`` header (RFC 9111 section 5.2): parse, validate, build.

::

    cc = CacheControl.parse("public, max-age=300, stale-while-revalidate=30")
    cc.max_age                               # 300
    str(cc.replace(max_age=60))              # 'public, max-age=60, stale-while-revalidate=30'
    CacheControl.parse("max-age=abc")        # ValueError: Cache-Control: max-age needs ...

Parsing is strict where a cache must not guess - a delta-seconds directive
without a number, a directive given twice with different values (RFC 9111
4.2.1 lets a cache treat that as stale), ``public`` with ``private`` - and
lenient where the RFC says to be: names are case-insensitive, empty list
elements are skipped, a quoted ``max-age="60"`` is read as 60, ages beyond
2**31 are clamped to 2**31, and unknown directives are kept as extensions
and otherwise ignored.  The common belt-and-braces header
``no-cache, no-store, must-revalidate, max-age=0`` is valid.
"""
from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Union

__all__ = ("CacheControl", "STATIC_ASSETS", "SHARED_DYNAMIC", "PRIVATE", "NO_STORE", "PRESETS")

_MAX_DELTA = 2 ** 31                    # RFC 9111 1.2.2: larger delta-seconds are sent as 2**31
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_DIGITS = re.compile(r"[0-9]+\Z")

# directive -> field name; the kind of value each takes
_FLAGS = {"public": "public", "no-store": "no_store", "must-revalidate": "must_revalidate",
          "proxy-revalidate": "proxy_revalidate", "immutable": "immutable", "no-transform": "no_transform",
          "must-understand": "must_understand", "only-if-cached": "only_if_cached"}
_DELTAS = {"max-age": "max_age", "s-maxage": "s_maxage", "stale-while-revalidate": "stale_while_revalidate",
           "stale-if-error": "stale_if_error", "min-fresh": "min_fresh", "max-stale": "max_stale"}
_FIELD_LISTS = {"private": "private", "no-cache": "no_cache"}     # bare, or ="Field-Name, ..."
_ORDER = ("public", "private", "no-cache", "no-store", "max-age", "s-maxage", "must-revalidate",
          "proxy-revalidate", "immutable", "stale-while-revalidate", "stale-if-error", "no-transform",
          "must-understand", "max-stale", "min-fresh", "only-if-cached")
_NAME_OF = {field: name for table in (_FLAGS, _DELTAS, _FIELD_LISTS) for name, field in table.items()}


def _split(header: str) -> list[str]:
    """Split on commas outside quoted strings."""
    parts, start, quoted, i = [], 0, False, 0
    while i < len(header):
        c = header[i]
        if c == '"':
            quoted = not quoted
        elif c == "\\" and quoted:
            i += 1
        elif c == "," and not quoted:
            parts.append(header[start:i])
            start = i + 1
        i += 1
    if quoted:
        raise ValueError(f"Cache-Control: unterminated quoted string in {header!r}")
    parts.append(header[start:])
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _delta(name: str, value: Optional[str]) -> int:
    if value is None:
        raise ValueError(f"Cache-Control: {name} needs a number of seconds, as in {name}=60")
    text = _unquote(value.strip())
    if not _DIGITS.match(text):
        raise ValueError(f"Cache-Control: {name} must be a non-negative integer number of seconds, got {value!r}")
    return min(int(text), _MAX_DELTA)


@dataclass(frozen=True)
class CacheControl:
    """A parsed ``Cache-Control`` header: response and request directives.

    ``private`` and ``no_cache`` are ``True`` bare, or a tuple of field names
    in their qualified form (``private="Set-Cookie"``); ``max_stale`` is
    ``True`` when given without a value.  Construction validates like
    :meth:`parse`; ``str(cc)`` is the header value.
    """

    public: bool = False
    private: Union[bool, tuple[str, ...]] = False
    no_cache: Union[bool, tuple[str, ...]] = False
    no_store: bool = False
    max_age: Optional[int] = None
    s_maxage: Optional[int] = None
    must_revalidate: bool = False
    proxy_revalidate: bool = False
    immutable: bool = False
    stale_while_revalidate: Optional[int] = None
    stale_if_error: Optional[int] = None
    no_transform: bool = False
    must_understand: bool = False
    # request directives
    max_stale: Union[None, bool, int] = None
    min_fresh: Optional[int] = None
    only_if_cached: bool = False
    extensions: tuple[tuple[str, Optional[str]], ...] = ()

    def __post_init__(self) -> None:
        for field in _DELTAS.values():
            value = getattr(self, field)
            if field == "max_stale" and value is True:
                continue
            if value is not None and (type(value) is not int or value < 0):
                raise ValueError(f"Cache-Control: {_NAME_OF[field]} must be a non-negative int "
                                 f"number of seconds, got {value!r}")
        for field in ("private", "no_cache"):
            value = getattr(self, field)
            if not isinstance(value, bool):
                if not isinstance(value, tuple) or not value or not all(
                        isinstance(f, str) and _TOKEN.match(f) for f in value):
                    raise ValueError(f"Cache-Control: {_NAME_OF[field]} is a bool or a non-empty tuple of "
                                     f"header names, got {value!r}")
        if self.public and self.private:
            raise ValueError("Cache-Control: public and private contradict each other")

    # -- parsing ----------------------------------------------------------------

    @classmethod
    def parse(cls, header: Union[str, bytes, Iterable[Union[str, bytes]]]) -> "CacheControl":
        """Parse one header value, or several header lines (joined as one list).

        ValueError, naming the directive, for malformed or contradictory input."""
        if isinstance(header, (bytes, bytearray)):
            header = header.decode("latin-1")
        elif not isinstance(header, str):
            lines = []
            for line in header:
                if not isinstance(line, (str, bytes, bytearray)):
                    raise TypeError(f"Cache-Control lines must be str or bytes, not {type(line).__name__}")
                lines.append(line.decode("latin-1") if isinstance(line, (bytes, bytearray)) else line)
            header = ", ".join(lines)
        fields: dict[str, Any] = {}
        extensions: list[tuple[str, Optional[str]]] = []
        for part in _split(header):
            part = part.strip()
            if not part:
                continue                           # "a,,b" and a trailing comma are allowed
            name, eq, raw = part.partition("=")
            name = name.strip().lower()
            value: Optional[str] = raw.strip() if eq else None
            if not _TOKEN.match(name):
                raise ValueError(f"Cache-Control: {name!r} is not a valid directive name")
            if value is not None and not value:
                raise ValueError(f"Cache-Control: {name} has an empty value")
            parsed: Any
            if name in _FLAGS:
                if value is not None:
                    raise ValueError(f"Cache-Control: {name} takes no value, got {name}={value}")
                field, parsed = _FLAGS[name], True
            elif name in _DELTAS:
                field = _DELTAS[name]
                parsed = True if (name == "max-stale" and value is None) else _delta(name, value)
            elif name in _FIELD_LISTS:
                field = _FIELD_LISTS[name]
                if value is None:
                    parsed = True
                else:
                    names = tuple(f.strip().lower() for f in _unquote(value).split(",") if f.strip())
                    if not names or not all(_TOKEN.match(f) for f in names):
                        raise ValueError(f"Cache-Control: {name}= takes a list of header names, got {value!r}")
                    parsed = names
            else:
                if value is not None and not (_TOKEN.match(value) or (value[0] == value[-1] == '"'
                                                                       and len(value) >= 2)):
                    raise ValueError(f"Cache-Control: {name} has an invalid value {value!r}")
                extensions.append((name, value))
                continue
            if field in fields and fields[field] != parsed:
                raise ValueError(f"Cache-Control: {name} is given twice with different values")
            fields[field] = parsed
        return cls(extensions=tuple(extensions), **fields)

    @classmethod
    def parse_lenient(cls, header: Union[str, bytes, Iterable[Union[str, bytes]], None]) -> Optional["CacheControl"]:
        """:meth:`parse`, or None where the header is absent or invalid.

        Results for str headers are memoised (the instances are immutable, and a
        service sends the same few Cache-Control values over and over)."""
        if header is None:
            return None
        if type(header) is str and cls is CacheControl:
            return _parse_memo(header)
        try:
            return cls.parse(header)
        except (ValueError, TypeError):
            return None

    # -- building ---------------------------------------------------------------

    def replace(self, **changes: Any) -> "CacheControl":
        """A copy with some directives changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def __str__(self) -> str:
        out = []
        for name in _ORDER:
            value = getattr(self, name.replace("-", "_"))
            if value is None or value is False:
                continue
            if value is True:
                out.append(name)
            elif isinstance(value, tuple):
                out.append(f'{name}="{", ".join(value)}"')
            else:
                out.append(f"{name}={value}")
        out.extend(name if value is None else f"{name}={value}" for name, value in self.extensions)
        return ", ".join(out)

    to_header = __str__

    # -- what a shared cache reads from it ---------------------------------------

    @property
    def shared_max_age(self) -> Optional[int]:
        """The freshness lifetime for a shared cache: ``s-maxage`` over ``max-age``."""
        return self.s_maxage if self.s_maxage is not None else self.max_age

    @property
    def storable_shared(self) -> bool:
        """Neither ``no-store`` nor ``private`` (qualified ``private`` is treated as bare)."""
        return not self.no_store and not self.private

    @property
    def revalidate_when_stale(self) -> bool:
        """``must-revalidate``, ``proxy-revalidate`` or ``s-maxage`` (RFC 9111 5.2.2.10): never served stale."""
        return self.must_revalidate or self.proxy_revalidate or self.s_maxage is not None


@functools.lru_cache(maxsize=512)
def _parse_memo(header: str) -> Optional[CacheControl]:
    try:
        return CacheControl.parse(header)
    except (ValueError, TypeError):
        return None


STATIC_ASSETS = CacheControl(public=True, max_age=31536000, immutable=True)
"""Fingerprinted static files: ``public, max-age=31536000, immutable``."""
SHARED_DYNAMIC = CacheControl(public=True, max_age=300, must_revalidate=True)
"""Pages every user sees alike: ``public, max-age=300, must-revalidate``."""
PRIVATE = CacheControl(private=True, no_cache=True)
"""Per-user content: ``private, no-cache`` (browsers revalidate; shared caches never store)."""
NO_STORE = CacheControl(no_store=True)
"""Nothing may keep a copy: ``no-store``."""
PRESETS = {"static": STATIC_ASSETS, "shared": SHARED_DYNAMIC, "private": PRIVATE, "no-store": NO_STORE}
"""The presets by name (route rules accept the names)."""
