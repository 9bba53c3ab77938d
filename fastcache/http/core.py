"""The part of the response cache that does no I/O, shared by the ASGI and WSGI middlewares.

A request comes in as :class:`Request` (method, host, path, query and its
headers as a ``{lowercase name: value}`` dict); a response from the app is
judged once its status and headers are known (:meth:`HTTPCacheCore.judge`),
stored as an entry once its body is, and a stored entry is turned back into
status, headers and body by :meth:`HTTPCacheCore.serve`.  The middlewares
only move bytes and call the cache.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional, Union

from . import entry as E
from .cache_control import CacheControl
from .rules import PolicyLike, RouteRules
from .store import HTTPStore, response_tags

log = logging.getLogger("fastcache.http")

__all__ = ("Request", "Judgement", "HTTPCacheCore", "HTTPCacheStats")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
MAX_REQUEST_CC = 4096          # a longer request Cache-Control is ignored, not parsed
MAX_SURROGATE_KEY = 1024       # Fastly's limit per key
MAX_SURROGATE_HEADER = 16384   # and per header; keys beyond it are not stored as tags
_CONDITIONAL = frozenset({"if-none-match", "if-modified-since"})


@dataclass
class HTTPCacheStats:
    """Counts since the middleware started."""

    hits: int = 0            # served fresh from the cache (304s to conditional requests included)
    stale: int = 0           # served stale: stale-while-revalidate, max-stale or stale-if-error
    misses: int = 0          # went to the app
    stored: int = 0          # responses stored
    revalidated: int = 0     # 304s from the app that refreshed an entry
    coalesced: int = 0       # misses that waited for another request's response instead of the app
    refreshes: int = 0       # background refreshes started (stale-while-revalidate)
    invalidated: int = 0     # URLs dropped by an unsafe method (POST, PUT, PATCH, DELETE)


class Request:
    """What the cache reads from a request."""

    __slots__ = ("method", "host", "path", "query", "headers", "cc", "pragma_no_cache", "key")

    def __init__(self, method: str, host: str, path: str, query: str, headers: dict[str, str],
                 store: HTTPStore) -> None:
        self.method = method
        self.host = host
        self.path = path
        self.query = query
        self.headers = headers
        raw = headers.get("cache-control")
        self.cc = (CacheControl.parse_lenient(raw) if raw is not None and len(raw) <= MAX_REQUEST_CC
                   else None)
        self.pragma_no_cache = raw is None and "no-cache" in headers.get("pragma", "")
        self.key = store.key(host, path, query)

    @property
    def no_store(self) -> bool:
        """The client asked that nothing be stored."""
        return self.cc is not None and self.cc.no_store


class Judgement:
    """What to do with the app's response, decided from its status and headers."""

    __slots__ = ("store", "headers", "cc", "lifetime", "vary", "header_map", "tags", "reason", "this_request")

    def __init__(self, store: bool, headers: list[list[str]], reason: str = "", cc: Optional[CacheControl] = None,
                 lifetime: int = 0, vary: Optional[list[str]] = None, header_map: Optional[dict[str, str]] = None,
                 tags: Optional[list[str]] = None) -> None:
        self.store = store
        self.headers = headers          # what the client is sent (route policy applied)
        self.reason = reason            # why not stored
        self.cc = cc
        self.lifetime = lifetime
        self.vary = vary or []
        self.header_map = header_map or {}
        self.tags = tags or []
        # not stored because of this request (HEAD, no-store, Authorization), not the URL's response:
        # other requests for the URL still queue behind one another (no hit-for-pass)
        self.this_request = reason in ("not a GET", "request no-store", "authorized request")


class HTTPCacheCore:
    """Configuration and the decisions of the response cache."""

    def __init__(self, cache: Any, *, rules: Union[RouteRules, Mapping[str, PolicyLike], None] = None,
                 timer: Callable[[], float] = time.time, max_body_size: int = 1 << 20, add_etag: bool = True,
                 max_variants: int = 8, key_prefix: str = "http:", x_cache_header: Optional[str] = "x-cache",
                 surrogate_path_keys: bool = False, hit_for_pass: float = 60.0, coalesce_timeout: float = 30.0,
                 stale_grace: float = 60.0) -> None:
        self.store = HTTPStore(cache, key_prefix)
        if rules is not None and not isinstance(rules, RouteRules):
            rules = RouteRules(rules)
        self.rules: Optional[RouteRules] = rules
        if not callable(timer):
            raise TypeError("timer must be a callable returning seconds since the epoch")
        self.timer = timer
        for name, value in (("max_body_size", max_body_size), ("max_variants", max_variants)):
            if type(value) is not int or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name, number in (("hit_for_pass", hit_for_pass), ("coalesce_timeout", coalesce_timeout),
                             ("stale_grace", stale_grace)):
            if not isinstance(number, (int, float)) or number < 0:
                raise ValueError(f"{name} must be a non-negative number of seconds, got {number!r}")
        self.max_body_size = max_body_size
        self.add_etag = add_etag
        self.max_variants = max_variants
        self.x_cache = x_cache_header.lower() if x_cache_header else None
        self.surrogate_path_keys = surrogate_path_keys
        self.hit_for_pass = hit_for_pass
        self.coalesce_timeout = coalesce_timeout
        self.stale_grace = stale_grace      # validators keep an entry this long past its stale windows
        self.stats = HTTPCacheStats()
        self._stats_lock = threading.Lock()      # WSGI servers count from many threads
        self._pass_until: dict[str, float] = {}    # URL -> until when it skips coalescing (uncacheable)
        self._pass_lock = threading.Lock()

    # -- requests ---------------------------------------------------------------

    def request(self, method: str, host: str, path: str, query: str, headers: dict[str, str]) -> Request:
        """A :class:`Request`."""
        return Request(method, host, path, query, headers, self.store)

    def count(self, name: str) -> None:
        """Add one to a counter of :attr:`stats` (an ``x += 1`` from two threads can lose one)."""
        with self._stats_lock:
            setattr(self.stats, name, getattr(self.stats, name) + 1)

    def on_stored(self, req: Request, stale: Optional[list[Any]]) -> tuple[str, float]:
        """What a stored entry allows now, counted: ``"HIT"``, ``"STALE"`` (served as is),
        ``"REFRESH"`` (served stale while one background refresh runs) or ``""`` (ask the app)."""
        now = self.timer()
        if stale is None:
            return "", now
        state = E.assess(stale, now, req.cc, req.pragma_no_cache)
        if state == E.FRESH:
            self.count("hits")
            return "HIT", now
        if state == E.REVALIDATE:
            return "", now
        self.count("stale")
        return ("REFRESH" if state == E.STALE_SWR else "STALE"), now

    def should_coalesce(self, key: str) -> bool:
        """False while key is known to be uncacheable (hit-for-pass), so its requests run concurrently."""
        until = self._pass_until.get(key)
        if until is None:
            return True
        if until > time.monotonic():
            return False
        self._pass_until.pop(key, None)
        return True

    def mark_uncacheable(self, key: str) -> None:
        """Remember that key's responses are not stored (bounded memory: the table is reset when large)."""
        if self.hit_for_pass <= 0:
            return
        with self._pass_lock:
            if len(self._pass_until) >= 10000:
                self._pass_until.clear()
            self._pass_until[key] = time.monotonic() + self.hit_for_pass

    def upstream_headers(self, req: Request, revalidating: Optional[list[Any]]) -> list[tuple[str, str]]:
        """Request headers for the app: the client's conditionals removed (the cache wants a full
        response to store), the stored entry's validators added when revalidating it."""
        out = [(k, v) for k, v in req.headers.items() if k not in _CONDITIONAL]
        if revalidating is not None:
            if revalidating[E.ETAG] is not None:
                out.append(("if-none-match", revalidating[E.ETAG]))
            if revalidating[E.LAST_MODIFIED] is not None:
                out.append(("if-modified-since", E.http_date(revalidating[E.LAST_MODIFIED])))
        return out

    # -- responses --------------------------------------------------------------

    def judge(self, req: Request, status: int, headers: list[list[str]]) -> Judgement:
        """Whether the app's response can be stored, and the headers the client gets."""
        header_map: dict[str, str] = {}
        for k, v in headers:
            header_map[k] = f"{header_map[k]}, {v}" if k in header_map else v
        if self.rules is not None:
            policy = self.rules.match(req.path)
            if policy is not None and (self.rules.override or "cache-control" not in header_map):
                value = str(policy)
                headers = [h for h in headers if h[0] != "cache-control"] + [["cache-control", value]]
                header_map["cache-control"] = value
        if self.surrogate_path_keys and status < 400:
            keys = header_map.get("surrogate-key", "").split()
            keys += response_tags(req.path, None)
            value = " ".join(dict.fromkeys(keys))
            headers = [h for h in headers if h[0] != "surrogate-key"] + [["surrogate-key", value]]
            header_map["surrogate-key"] = value
        if self.x_cache:
            headers = headers + [[self.x_cache, "MISS"]]
        reason = self._unstorable(req, status, header_map)
        if reason:
            return Judgement(False, headers, reason, header_map=header_map)
        cc = CacheControl.parse_lenient(header_map.get("cache-control"))
        if cc is None:
            if "cache-control" in header_map:
                log.warning("fastcache.http: not storing %s: malformed Cache-Control %.200r",
                            req.path, header_map["cache-control"])
                return Judgement(False, headers, "malformed Cache-Control", header_map=header_map)
            cc = CacheControl()
        if not cc.storable_shared:
            return Judgement(False, headers, "private" if cc.private else "no-store", header_map=header_map)
        if ("authorization" in req.headers and not (cc.public or cc.s_maxage is not None or cc.must_revalidate)):
            return Judgement(False, headers, "authorized request", header_map=header_map)      # RFC 9111 3.5
        lifetime = E.lifetime_of(cc, header_map, self.timer())
        if lifetime is None:
            return Judgement(False, headers, "no explicit freshness", header_map=header_map)
        has_validator = "etag" in header_map or "last-modified" in header_map or self.add_etag
        if (lifetime == 0 or cc.no_cache) and not has_validator and not cc.stale_while_revalidate \
                and not cc.stale_if_error:
            return Judgement(False, headers, "nothing to reuse", header_map=header_map)
        vary = [v.strip().lower() for v in header_map.get("vary", "").split(",") if v.strip()]
        return Judgement(True, headers, cc=cc, lifetime=lifetime, vary=vary, header_map=header_map,
                         tags=self._tags(req.path, header_map.get("surrogate-key")))

    @staticmethod
    def _unstorable(req: Request, status: int, header_map: Mapping[str, str]) -> str:
        if req.method != "GET":
            return "not a GET"
        if req.no_store:
            return "request no-store"
        if status not in E.STORABLE_STATUS:
            return f"status {status}"
        if "set-cookie" in header_map:
            return "Set-Cookie"          # one client's cookie must not be replayed to others
        if header_map.get("vary", "").strip() == "*" or "*" in (
                v.strip() for v in header_map.get("vary", "").split(",")):
            return "Vary: *"
        return ""

    @staticmethod
    def _tags(path: str, surrogate_key: Optional[str]) -> list[str]:
        if surrogate_key and len(surrogate_key) > MAX_SURROGATE_HEADER:
            log.warning("fastcache.http: Surrogate-Key of %d characters on %s; only the first %d are used as tags",
                        len(surrogate_key), path, MAX_SURROGATE_HEADER)
            surrogate_key = surrogate_key[:MAX_SURROGATE_HEADER].rsplit(" ", 1)[0]
        if surrogate_key:
            surrogate_key = " ".join(k for k in surrogate_key.split() if len(k) <= MAX_SURROGATE_KEY)
        return response_tags(path, surrogate_key)

    def tags_of(self, path: str, entry: list[Any]) -> list[str]:
        """The tags of a stored entry (after a revalidation refreshed it)."""
        return self._tags(path, dict(entry[E.HEADERS]).get("surrogate-key"))

    def entry(self, req: Request, judgement: Judgement, status: int, body: bytes) -> list[Any]:
        """The entry stored for a complete response."""
        headers = [h for h in judgement.headers if h[0] not in ("content-length", self.x_cache)]
        if status not in (204, 304):
            headers.append(["content-length", str(len(body))])
        vary_values = [req.headers.get(n) for n in judgement.vary]
        assert judgement.cc is not None
        return E.new_entry(status, headers, body, self.timer(), judgement.cc, judgement.lifetime,
                           judgement.header_map, judgement.vary, vary_values, self.add_etag)

    def storage_ttl(self, entry: list[Any]) -> float:
        """How long the cache keeps an entry: its lifetime, the stale windows, a grace for revalidation."""
        keep = entry[E.LIFETIME] + max(entry[E.SWR], entry[E.SIE])
        if entry[E.ETAG] is not None or entry[E.LAST_MODIFIED] is not None:
            keep += self.stale_grace
        return max(float(keep), 1.0)

    def stored_value(self, old: Optional[list[list[Any]]], entry: list[Any]) -> list[Any]:
        """The URL's value with entry among its variants."""
        return E.with_variant(old, entry, self.max_variants)

    # -- serving ----------------------------------------------------------------

    def serve(self, req: Request, entry: list[Any], label: str, now: float) -> tuple[int, list[list[str]], bytes]:
        """Status, headers and body for the client from a stored entry."""
        extra = [["age", str(E.age_of(entry, now))]]
        if self.x_cache:
            extra.append([self.x_cache, label])
        if E.not_modified(req.headers, entry[E.ETAG], entry[E.LAST_MODIFIED]):
            return 304, E.not_modified_headers(entry[E.HEADERS]) + extra, b""
        body = b"" if req.method == "HEAD" else entry[E.BODY]
        return entry[E.STATUS], entry[E.HEADERS] + extra, body

    def miss_304_headers(self, judgement: Judgement) -> list[list[str]]:
        """Headers of a 304 answered from the app's full response."""
        extra = [[self.x_cache, "MISS"]] if self.x_cache else []
        return E.not_modified_headers(judgement.headers) + extra

    def miss_conditional(self, req: Request, status: int, judgement: Judgement) -> bool:
        """Whether the client's conditional request matches the app's full response: answer 304
        (the app was asked without the client's conditionals, stored or not)."""
        if status != 200:
            return False
        etag = judgement.header_map.get("etag")
        return E.not_modified(req.headers, etag, E.parse_http_date(judgement.header_map.get("last-modified")))


def header_pairs(raw: Iterable[tuple[bytes, bytes]]) -> list[list[str]]:
    """ASGI headers as [lowercase name, value] str pairs."""
    return [[k.decode("latin-1").lower(), v.decode("latin-1")] for k, v in raw]
