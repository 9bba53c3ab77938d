"""A stored response, and what RFC 9111 says a shared cache may do with it.

A stored response is a plain list (so every cache, Redis with its JSON
serializer included, can hold it, and a hit reads fields without building
an object); the value kept under one URL is ``[FORMAT, [entry, ...]]``, one
entry per ``Vary`` variant.  Data read back from a remote tier is untrusted:
:func:`variants_of` checks the shape and turns anything else into a miss.

Freshness follows RFC 9111 4.2 with the Age calculation simplified to a
cache that is the only hop after the origin: ``age = Age header at store +
(now - stored_at)``.  Lifetime is ``s-maxage``, else ``max-age``, else
``Expires - Date``; a response without one is not stored (no heuristic
freshness: a route rule can supply a policy instead).
"""
from __future__ import annotations

import email.utils
import hashlib
import logging
from typing import Any, Mapping, Optional

from .cache_control import CacheControl

log = logging.getLogger("fastcache.http")

FORMAT = "fc-http/1"
# entry fields
STATUS, HEADERS, BODY, STORED, AGE0, LIFETIME, SWR, SIE, FLAGS, ETAG, LAST_MODIFIED, VARY, VARY_VALUES = range(13)
N_FIELDS = 13
# flags
NO_CACHE = 1            # revalidate on every use
MUST_REVALIDATE = 2     # never served stale (must-/proxy-revalidate)
IMMUTABLE = 4           # while fresh, not revalidated even on a client's reload
S_MAXAGE = 8            # s-maxage: a client's max-stale does not apply

# what assess() says about an entry
FRESH, STALE_SWR, STALE_OK, REVALIDATE = range(4)

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
              add_etag: bool) -> list[Any]:
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
    return [status, stored_headers, body, now, max(age0, 0), lifetime, cc.stale_while_revalidate or 0,
            cc.stale_if_error or 0, _flags(cc), etag, parse_http_date(header_map.get("last-modified")),
            vary, vary_values]


def refreshed(entry: list[Any], headers304: list[list[str]], now: float) -> Optional[list[Any]]:
    """The entry updated by a 304 from the origin (RFC 9111 4.3.4), or None if it cannot be."""
    header_map = {k: v for k, v in headers304}
    cc = CacheControl.parse_lenient(header_map.get("cache-control"))
    merged = {k: v for k, v in entry[HEADERS]}
    for k, v in headers304:
        if k not in HOP_BY_HOP and k != "content-length":
            merged[k] = v
    if cc is None:
        cc = CacheControl.parse_lenient(merged.get("cache-control")) or CacheControl()
    lifetime = lifetime_of(cc, merged, now)
    if lifetime is None or not cc.storable_shared:
        return None
    new = list(entry)
    new[HEADERS] = [[k, v] for k, v in merged.items()]
    new[STORED] = now
    new[AGE0] = 0
    new[LIFETIME] = lifetime
    new[SWR] = cc.stale_while_revalidate or 0
    new[SIE] = cc.stale_if_error or 0
    new[FLAGS] = _flags(cc)
    new[ETAG] = merged.get("etag", entry[ETAG])
    return new


def age_of(entry: list[Any], now: float) -> int:
    """The entry's current age in whole seconds."""
    return int(entry[AGE0] + max(0.0, now - entry[STORED]))


def assess(entry: list[Any], now: float, req_cc: Optional[CacheControl], pragma_no_cache: bool) -> int:
    """FRESH, STALE_SWR (serve, refresh in the background), STALE_OK (the client accepts it) or REVALIDATE."""
    age = entry[AGE0] + max(0.0, now - entry[STORED])
    lifetime = entry[LIFETIME]
    flags = entry[FLAGS]
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
    if staleness < entry[SWR]:
        return STALE_SWR
    return REVALIDATE


def may_serve_on_error(entry: list[Any], now: float, req_cc: Optional[CacheControl]) -> bool:
    """Whether stale-if-error (the response's or the request's) covers this entry now."""
    if entry[FLAGS] & MUST_REVALIDATE:
        return False
    staleness = entry[AGE0] + max(0.0, now - entry[STORED]) - entry[LIFETIME]
    window = entry[SIE]
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


def _valid_entry(e: Any) -> bool:
    return (type(e) is list and len(e) == N_FIELDS and type(e[STATUS]) is int and type(e[BODY]) is bytes
            and type(e[HEADERS]) is list
            and all(type(h) is list and len(h) == 2 and type(h[0]) is str and type(h[1]) is str for h in e[HEADERS])
            and all(isinstance(e[i], (int, float)) and not isinstance(e[i], bool)
                    for i in (STORED, AGE0, LIFETIME, SWR, SIE, FLAGS))
            and (e[ETAG] is None or type(e[ETAG]) is str)
            and (e[LAST_MODIFIED] is None or isinstance(e[LAST_MODIFIED], (int, float)))
            and type(e[VARY]) is list and type(e[VARY_VALUES]) is list and len(e[VARY]) == len(e[VARY_VALUES])
            and all(type(v) is str for v in e[VARY])
            and all(v is None or type(v) is str for v in e[VARY_VALUES]))


def variants_of(value: Any, key: Any, trusted: bool = False) -> Optional[list[list[Any]]]:
    """The entries stored under a URL, or None (a miss; logged if the value is not ours).

    ``trusted``: the value comes from a process-local cache, where only this
    module writes under its keys, so the entries' shape is not checked again."""
    if value is None:
        return None
    if type(value) is list and len(value) == 2 and value[0] == FORMAT and type(value[1]) is list:
        entries = value[1]
        if all(type(e) is list and len(e) == N_FIELDS for e in entries) if trusted else all(
                _valid_entry(e) for e in entries):
            return entries
    log.warning("fastcache.http: ignoring a malformed cached response under %r", key)
    return None


def pick(entries: list[list[Any]], req_headers: Mapping[str, str]) -> Optional[list[Any]]:
    """The entry whose Vary'd request headers match this request's (RFC 9111 4.1)."""
    for e in entries:
        names = e[VARY]
        if not names:
            return e
        if all(req_headers.get(n) == v for n, v in zip(names, e[VARY_VALUES])):
            return e
    return None


def with_variant(entries: Optional[list[list[Any]]], entry: list[Any], max_variants: int) -> list[Any]:
    """The URL's stored value with entry replacing the one for the same request headers."""
    kept = [e for e in entries or () if e[VARY] == entry[VARY] and e[VARY_VALUES] != entry[VARY_VALUES]]
    kept.append(entry)
    return [FORMAT, kept[-max_variants:]]
