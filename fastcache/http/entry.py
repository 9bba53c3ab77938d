"""A stored response, and what RFC 9111 says a shared cache may do with it.

A stored response is an :class:`Entry` (a typed record); the value kept under
one URL is ``[FORMAT, [entry, ...]]``, one entry per ``Vary`` variant.  A
process-local cache keeps the records themselves; a remote tier (Redis, or
the L2 behind a TieredCache) gets each entry as a plain list, so its JSON
serializer can hold it (the wire format).  Data read back from a remote
tier is untrusted: :func:`variants_of` checks the shape, turns anything else
into a miss, and makes records of what passes.

Freshness follows RFC 9111 4.2 with the Age calculation simplified to a
cache that is the only hop after the origin: ``age = Age header at store +
(now - stored_at)``.  Lifetime is ``s-maxage``, else ``max-age``, else
``Expires - Date``; a response without one is not stored (no heuristic
freshness: a route rule can supply a policy instead).
"""
from __future__ import annotations

import email.utils
import enum
import hashlib
import logging
from typing import Any, Mapping, NamedTuple, Optional

from .cache_control import CacheControl

log = logging.getLogger("fastcache.http")

FORMAT = "fc-http/1"


class Entry(NamedTuple):
    """One stored response (one ``Vary`` variant of a URL)."""

    status: int
    headers: list[list[str]]            # [lowercase name, value], hop-by-hop headers left out
    body: bytes
    stored: float                       # when it was stored (the timer's seconds)
    age0: int                           # its Age header when stored
    lifetime: int                       # seconds of freshness for a shared cache
    swr: int                            # stale-while-revalidate window
    sie: int                            # stale-if-error window
    flags: int                          # NO_CACHE | MUST_REVALIDATE | IMMUTABLE | S_MAXAGE
    etag: Optional[str]
    last_modified: Optional[float]
    vary: list[str]                     # the request headers it varies on
    vary_values: list[Optional[str]]    # their values in the request it answered


N_FIELDS = len(Entry._fields)
# flags
NO_CACHE = 1            # revalidate on every use
MUST_REVALIDATE = 2     # never served stale (must-/proxy-revalidate)
IMMUTABLE = 4           # while fresh, not revalidated even on a client's reload
S_MAXAGE = 8            # s-maxage: a client's max-stale does not apply

class Freshness(enum.Enum):
    """What a stored entry allows for one request (:func:`assess`)."""

    FRESH = "fresh"                     # serve it
    STALE_SWR = "stale-while-revalidate"   # serve it, refresh it in the background
    STALE_OK = "stale-ok"               # serve it stale: the client accepts that (max-stale)
    REVALIDATE = "revalidate"           # ask the app (conditionally, if it has validators)


FRESH, STALE_SWR, STALE_OK, REVALIDATE = (Freshness.FRESH, Freshness.STALE_SWR, Freshness.STALE_OK,
                                          Freshness.REVALIDATE)

# status codes a cache may store given explicit freshness (RFC 9110 15.1 "heuristically cacheable",
# plus the redirects that are cacheable when explicitly marked); 206 is left out: no Range support
STORABLE_STATUS = frozenset({200, 203, 204, 300, 301, 302, 307, 308, 404, 405, 410, 414, 501})
# never stored, never replayed from the cache
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                        "trailer", "transfer-encoding", "upgrade", "proxy-connection", "age", "x-cache",
                        "set-cookie", "date", "server"})
_NOT_MODIFIED_HEADERS = ("cache-control", "content-location", "etag", "expires", "vary", "last-modified")


def http_date(timestamp: float) -> str:
    """An IMF-fixdate."""
    return email.utils.formatdate(timestamp, usegmt=True)


def parse_http_date(value: Optional[str]) -> Optional[float]:
    """A timestamp, or None for an absent or invalid date."""
    if not value or len(value) > 64:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    return parsed.timestamp()


def strong_etag(body: bytes) -> str:
    """An ETag from the body's digest."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def lifetime_of(cc: CacheControl, headers: Mapping[str, str], now: float) -> Optional[int]:
    """Seconds the response is fresh for a shared cache, or None if it says nothing."""
    max_age = cc.shared_max_age
    if max_age is not None:
        return max_age
    expires = headers.get("expires")
    if expires is not None:
        expiry = parse_http_date(expires)
        if expiry is None:
            return 0                     # RFC 9111 5.3: an invalid Expires means already expired
        date = parse_http_date(headers.get("date")) or now
        return max(0, int(expiry - date))
    if cc.no_cache:
        return 0                         # stored only to be revalidated on every use
    return None


def _flags(cc: CacheControl) -> int:
    """The entry flags a response's Cache-Control sets."""
    return ((NO_CACHE if cc.no_cache else 0) | (IMMUTABLE if cc.immutable else 0)
            | (MUST_REVALIDATE if cc.must_revalidate or cc.proxy_revalidate else 0)
            | (S_MAXAGE if cc.s_maxage is not None else 0))


def new_entry(status: int, headers: list[list[str]], body: bytes, now: float, cc: CacheControl,
              lifetime: int, header_map: Mapping[str, str], vary: list[str], vary_values: list[Optional[str]],
              add_etag: bool) -> Entry:
    """Build the entry stored for a response."""
    etag = header_map.get("etag")
    stored_headers = [[k, v] for k, v in headers if k not in HOP_BY_HOP]
    if etag is None and add_etag and status == 200:
        etag = strong_etag(body)
        stored_headers.append(["etag", etag])
    try:
        age0 = int(header_map.get("age", "0"))
    except ValueError:
        age0 = 0
    return Entry(status, stored_headers, body, now, max(age0, 0), lifetime, cc.stale_while_revalidate or 0,
                 cc.stale_if_error or 0, _flags(cc), etag, parse_http_date(header_map.get("last-modified")),
                 vary, vary_values)


def refreshed(entry: Entry, headers304: list[list[str]], now: float) -> Optional[Entry]:
    """The entry updated by a 304 from the origin (RFC 9111 4.3.4), or None if it cannot be."""
    header_map = {k: v for k, v in headers304}
    cc = CacheControl.parse_lenient(header_map.get("cache-control"))
    merged = {k: v for k, v in entry.headers}
    for k, v in headers304:
        if k not in HOP_BY_HOP and k != "content-length":
            merged[k] = v
    if cc is None:
        cc = CacheControl.parse_lenient(merged.get("cache-control")) or CacheControl()
    lifetime = lifetime_of(cc, merged, now)
    if lifetime is None or not cc.storable_shared:
        return None
    return entry._replace(headers=[[k, v] for k, v in merged.items()], stored=now, age0=0, lifetime=lifetime,
                          swr=cc.stale_while_revalidate or 0, sie=cc.stale_if_error or 0, flags=_flags(cc),
                          etag=merged.get("etag", entry.etag))


def age_of(entry: Entry, now: float) -> int:
    """The entry's current age in whole seconds."""
    return int(entry.age0 + max(0.0, now - entry.stored))


def assess(entry: Entry, now: float, req_cc: Optional[CacheControl], pragma_no_cache: bool) -> Freshness:
    """What the entry allows for a request now (see :class:`Freshness`)."""
    age = entry.age0 + max(0.0, now - entry.stored)
    lifetime = entry.lifetime
    flags = entry.flags
    fresh = age < lifetime
    if flags & NO_CACHE:
        return REVALIDATE
    if fresh and flags & IMMUTABLE:
        return FRESH                       # a reload does not revalidate what cannot change
    if req_cc is not None:
        if req_cc.no_cache or (req_cc.max_age is not None and age > req_cc.max_age):
            return REVALIDATE
        if req_cc.min_fresh is not None and lifetime - age < req_cc.min_fresh:
            return REVALIDATE
    elif pragma_no_cache:
        return REVALIDATE
    if fresh:
        return FRESH
    if flags & MUST_REVALIDATE:
        return REVALIDATE
    staleness = age - lifetime
    max_stale = req_cc.max_stale if req_cc is not None else None
    if max_stale is not None and not flags & S_MAXAGE and (max_stale is True or staleness <= max_stale):
        return STALE_OK
    if staleness < entry.swr:
        return STALE_SWR
    return REVALIDATE


def may_serve_on_error(entry: Entry, now: float, req_cc: Optional[CacheControl]) -> bool:
    """Whether stale-if-error (the response's or the request's) covers this entry now."""
    if entry.flags & MUST_REVALIDATE:
        return False
    staleness = entry.age0 + max(0.0, now - entry.stored) - entry.lifetime
    window = entry.sie
    if req_cc is not None and req_cc.stale_if_error is not None:
        window = max(window, req_cc.stale_if_error)
    return bool(staleness < window)


def _etag_matches(if_none_match: str, etag: Optional[str]) -> bool:
    """Weak comparison (RFC 9110 13.1.2)."""
    if etag is None:
        return if_none_match.strip() == "*"
    if if_none_match.strip() == "*":
        return True
    bare = etag[2:] if etag.startswith("W/") else etag
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == bare:
            return True
    return False


def not_modified(req_headers: Mapping[str, str], etag: Optional[str], last_modified: Optional[float]) -> bool:
    """Whether a GET/HEAD with these conditional headers gets a 304 (RFC 9110 13.2.2)."""
    inm = req_headers.get("if-none-match")
    if inm is not None:
        return _etag_matches(inm, etag)
    ims = req_headers.get("if-modified-since")
    if ims is not None and last_modified is not None:
        since = parse_http_date(ims)
        return since is not None and last_modified <= since
    return False


def not_modified_headers(headers: list[list[str]]) -> list[list[str]]:
    """The stored headers a 304 repeats."""
    return [[k, v] for k, v in headers if k in _NOT_MODIFIED_HEADERS]


_STATUS, _HEADERS, _BODY, _STORED, _AGE0, _LIFETIME, _SWR, _SIE, _FLAGS, _ETAG, _LAST_MODIFIED, _VARY, _VARY_VALUES = \
    range(N_FIELDS)


def _valid_entry(e: Any) -> bool:
    """Whether a decoded (untrusted) list has the shape of an entry."""
    return (type(e) is list and len(e) == N_FIELDS and type(e[_STATUS]) is int and type(e[_BODY]) is bytes
            and type(e[_HEADERS]) is list
            and all(type(h) is list and len(h) == 2 and type(h[0]) is str and type(h[1]) is str for h in e[_HEADERS])
            and all(isinstance(e[i], (int, float)) and not isinstance(e[i], bool)
                    for i in (_STORED, _AGE0, _LIFETIME, _SWR, _SIE, _FLAGS))
            and (e[_ETAG] is None or type(e[_ETAG]) is str)
            and (e[_LAST_MODIFIED] is None or isinstance(e[_LAST_MODIFIED], (int, float)))
            and type(e[_VARY]) is list and type(e[_VARY_VALUES]) is list and len(e[_VARY]) == len(e[_VARY_VALUES])
            and all(type(v) is str for v in e[_VARY])
            and all(v is None or type(v) is str for v in e[_VARY_VALUES]))


def variants_of(value: Any, key: Any, trusted: bool = False) -> Optional[list[Entry]]:
    """The entries stored under a URL, or None (a miss; logged if the value is not ours).

    ``trusted``: the value comes from a process-local cache, where only this
    module writes under its keys (records, as :func:`with_variant` made them),
    so their shape is not checked again; an untrusted value is checked and its
    lists made records."""
    if value is None:
        return None
    if type(value) is list and len(value) == 2 and value[0] == FORMAT and type(value[1]) is list:
        entries = value[1]
        if trusted:
            if all(type(e) is Entry for e in entries):
                return entries
        elif all(_valid_entry(e) for e in entries):
            return [Entry._make(e) for e in entries]
    log.warning("fastcache.http: ignoring a malformed cached response under %r", key)
    return None


def pick(entries: list[Entry], req_headers: Mapping[str, str]) -> Optional[Entry]:
    """The entry whose Vary'd request headers match this request's (RFC 9111 4.1)."""
    for e in entries:
        names = e.vary
        if not names:
            return e
        if all(req_headers.get(n) == v for n, v in zip(names, e.vary_values)):
            return e
    return None


def with_variant(entries: Optional[list[Entry]], entry: Entry, max_variants: int, trusted: bool) -> list[Any]:
    """The URL's stored value with entry replacing the one for the same request headers
    (records for a process-local cache, plain lists - the wire format - for a remote one)."""
    kept = [e for e in entries or () if e.vary == entry.vary and e.vary_values != entry.vary_values]
    kept.append(entry)
    kept = kept[-max_variants:]
    return [FORMAT, kept if trusted else [list(e) for e in kept]]
