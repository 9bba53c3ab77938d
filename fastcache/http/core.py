"""The part of the response cache that does no I/O, shared by the ASGI and WSGI middlewares.

A request comes in as :class:`Request` (method, host, path, query and its
headers as a ``{lowercase name: value}`` dict); a response from the app is
judged once its status and headers are known (:meth:`HTTPCacheCore.judge`),
stored as an entry once its body is, and a stored entry is turned back into
status, headers and body by :meth:`HTTPCacheCore.serve`.  The middlewares
only move bytes and call the cache.
"""
from __future__ import annotations

import enum
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional, Union

from . import entry as E
from .cache_control import CacheControl
from .entry import FRESH, REVALIDATE, STALE_SWR, Entry
from .rules import PolicyLike, RouteRules
from .store import HTTPStore, response_tags

log = logging.getLogger("fastcache.http")

__all__ = ("Request", "Judgement", "HTTPCacheCore", "HTTPCacheStats", "Label", "NotStored")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
MAX_REQUEST_CC = 4096          # a longer request Cache-Control is ignored, not parsed
MAX_SURROGATE_KEY = 1024       # Fastly's limit per key
MAX_SURROGATE_HEADER = 16384   # and per header; keys beyond it are not stored as tags
_CONDITIONAL = frozenset({"if-none-match", "if-modified-since"})


class Label(enum.Enum):
    """How a response was answered (the ``X-Cache`` header's value)."""

    HIT = "HIT"
    STALE = "STALE"
    MISS = "MISS"

    # The header's text and bytes, read on every response: plain attributes, set below,
    # because Enum's ``value`` is a Python-level property (two Python calls per read).
    text: str
    raw: bytes


for _label in Label:
    _label.text = _label.value
    _label.raw = _label.value.encode("ascii")

# The members as module constants: reading one off its Enum class runs a Python-level
# descriptor (timeit here: 76 ns, 8x the 9.5 ns of reading a module constant), too
# much for code that runs on every request.
HIT, STALE, MISS = Label


class NotStored(enum.Enum):
    """Why a response is not stored."""

    NOT_GET = "not a GET"
    REQUEST_NO_STORE = "request no-store"
    AUTHORIZED_REQUEST = "authorized request"
    STATUS = "status not storable"
    SET_COOKIE = "Set-Cookie"
    VARY_STAR = "Vary: *"
    MALFORMED_CACHE_CONTROL = "malformed Cache-Control"
    PRIVATE = "private"
    NO_STORE = "no-store"
    NO_FRESHNESS = "no explicit freshness"
    NOTHING_TO_REUSE = "nothing to reuse"

    @property
    def this_request(self) -> bool:
        """Not stored because of this request (HEAD, no-store, Authorization), not because of the
        URL's response: other requests for the URL still queue behind one another (no hit-for-pass)."""
        return self in _THIS_REQUEST


(_NOT_GET, _REQUEST_NO_STORE, _AUTHORIZED_REQUEST, _STATUS, _SET_COOKIE, _VARY_STAR, _MALFORMED_CACHE_CONTROL,
 _PRIVATE, _NO_STORE, _NO_FRESHNESS, _NOTHING_TO_REUSE) = NotStored          # as constants: see HIT above
_THIS_REQUEST = frozenset({_NOT_GET, _REQUEST_NO_STORE, _AUTHORIZED_REQUEST})


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

    __slots__ = ("store", "headers", "cc", "lifetime", "vary", "header_map", "tags", "reason")

    def __init__(self, store: bool, headers: list[list[str]], reason: Optional[NotStored] = None,
                 cc: Optional[CacheControl] = None, lifetime: int = 0, vary: Optional[list[str]] = None,
                 header_map: Optional[dict[str, str]] = None, tags: Optional[list[str]] = None) -> None:
        self.store = store
        self.headers = headers          # what the client is sent (route policy applied)
        self.reason = reason            # why not stored (None: stored)
        self.cc = cc
        self.lifetime = lifetime
        self.vary = vary or []
        self.header_map = header_map or {}
        self.tags = tags or []

    @property
    def this_request(self) -> bool:
        """Not stored because of this request, not because of the URL's response."""
        return self.reason is not None and self.reason.this_request


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

    def lookup(self, req: Request, entries: Optional[list[Entry]]) -> "Serve | Forward | Reject":
        """What a GET or HEAD does with what the cache holds for its URL, counted: serve a stored
        entry (fresh, or stale as the rules allow, maybe refreshing it in the background), answer
        504 (``only-if-cached``), or forward to the app."""
        stale = E.pick(entries, req.headers) if entries else None
        now = self.timer()
        if stale is not None:
            state = E.assess(stale, now, req.cc, req.pragma_no_cache)
            if state is FRESH:
                self.count("hits")
                return Serve(stale, HIT, now)
            if state is not REVALIDATE:
                self.count("stale")
                refresh = self.forward(req, stale) if state is STALE_SWR else None
                return Serve(stale, STALE, now, refresh)
        if req.cc is not None and req.cc.only_if_cached:
            return Reject(504, b"not in cache (only-if-cached)")
        if stale is None:                       # the common miss: nothing to revalidate
            return Forward(None, None, req.method == "GET")
        return self.forward(req, stale)

    @staticmethod
    def forward(req: Request, stale: Optional[Entry]) -> "Forward":
        """The trip to the app for req, revalidating stale when it has validators."""
        revalidating = stale if stale is not None and (stale.etag is not None
                                                       or stale.last_modified is not None) else None
        return Forward(stale, revalidating, coalesce=req.method == "GET")

    def coalesced_hit(self, req: Request, got: Optional[Entry]) -> bool:
        """Whether what another request's response stored answers this one (fresh, same variant), counted."""
        if (got is not None and E.pick([got], req.headers) is not None
                and E.assess(got, self.timer(), req.cc, req.pragma_no_cache) is FRESH):
            self.count("hits")
            return True
        return False

    def responded(self, req: Request, forward: "Forward", status: int, headers: list[list[str]]
                  ) -> "Revalidated | ServeStale | Judgement":
        """What the app's response start means, decided and counted: an entry revalidated by a 304,
        the stale copy served instead of a 5xx (stale-if-error), or a :class:`Judgement` (store or pass;
        a URL that answered uncacheably is remembered for hit-for-pass)."""
        now = self.timer()
        revalidating = forward.revalidating
        if status == 304 and revalidating is not None:
            self.count("revalidated")
            updated = E.refreshed(revalidating, headers, now)
            return Revalidated(updated or revalidating, updated is not None)
        if status >= 500 and forward.stale is not None and E.may_serve_on_error(forward.stale, now, req.cc):
            log.warning("fastcache.http: the app answered %d on %s; serving the stale copy (stale-if-error)",
                        status, req.path)
            return self.serve_stale(forward)
        j = self.judge(req, status, headers)
        if not j.store and not j.this_request:
            self.mark_uncacheable(req.key)
        return j

    def failed(self, req: Request, forward: "Forward") -> Optional["ServeStale"]:
        """The app raised: the stale copy if stale-if-error covers it (counted), else None (re-raise)."""
        if forward.stale is None or not E.may_serve_on_error(forward.stale, self.timer(), req.cc):
            return None
        log.warning("fastcache.http: the app failed on %s; serving the stale copy (stale-if-error)",
                    req.path, exc_info=True)
        return self.serve_stale(forward)

    def serve_stale(self, forward: "Forward") -> "ServeStale":
        assert forward.stale is not None
        self.count("stale")
        return ServeStale(forward.stale)

    def invalidation_targets(self, req: Request, status: int, headers: Iterable[tuple[str, str]]) -> list[str]:
        """The URLs an unsafe request's response invalidates (RFC 9111 4.4): none unless it
        succeeded; its own, and Location / Content-Location when they name a path on this host."""
        if not 200 <= status < 400:
            return []
        keys = [req.key]
        for k, v in headers:
            if k.lower() in ("location", "content-location") and v.startswith("/"):
                path, _, query = v.partition("?")
                keys.append(self.store.key(req.host, path, query))
        self.count("invalidated")
        return keys

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

    def upstream_headers(self, req: Request, revalidating: Optional[Entry]) -> list[tuple[str, str]]:
        """Request headers for the app: the client's conditionals removed (the cache wants a full
        response to store), the stored entry's validators added when revalidating it."""
        out = [(k, v) for k, v in req.headers.items() if k not in _CONDITIONAL]
        if revalidating is not None:
            out += validators(revalidating)
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
            headers = headers + [[self.x_cache, MISS.text]]
        reason = self._unstorable(req, status, header_map)
        if reason is not None:
            return Judgement(False, headers, reason, header_map=header_map)
        cc = CacheControl.parse_lenient(header_map.get("cache-control"))
        if cc is None:
            if "cache-control" in header_map:
                log.warning("fastcache.http: not storing %s: malformed Cache-Control %.200r",
                            req.path, header_map["cache-control"])
                return Judgement(False, headers, _MALFORMED_CACHE_CONTROL, header_map=header_map)
            cc = CacheControl()
        if not cc.storable_shared:
            return Judgement(False, headers, _PRIVATE if cc.private else _NO_STORE,
                             header_map=header_map)
        if ("authorization" in req.headers and not (cc.public or cc.s_maxage is not None or cc.must_revalidate)):
            return Judgement(False, headers, _AUTHORIZED_REQUEST, header_map=header_map)  # RFC 9111 3.5
        lifetime = E.lifetime_of(cc, header_map, self.timer())
        if lifetime is None:
            return Judgement(False, headers, _NO_FRESHNESS, header_map=header_map)
        has_validator = "etag" in header_map or "last-modified" in header_map or self.add_etag
        if (lifetime == 0 or cc.no_cache) and not has_validator and not cc.stale_while_revalidate \
                and not cc.stale_if_error:
            return Judgement(False, headers, _NOTHING_TO_REUSE, header_map=header_map)
        vary = [v.strip().lower() for v in header_map.get("vary", "").split(",") if v.strip()]
        return Judgement(True, headers, cc=cc, lifetime=lifetime, vary=vary, header_map=header_map,
                         tags=self._tags(req.path, header_map.get("surrogate-key")))

    @staticmethod
    def _unstorable(req: Request, status: int, header_map: Mapping[str, str]) -> Optional[NotStored]:
        if req.method != "GET":
            return _NOT_GET
        if req.no_store:
            return _REQUEST_NO_STORE
        if status not in E.STORABLE_STATUS:
            return _STATUS
        if "set-cookie" in header_map:
            return _SET_COOKIE          # one client's cookie must not be replayed to others
        if header_map.get("vary", "").strip() == "*" or "*" in (
                v.strip() for v in header_map.get("vary", "").split(",")):
            return _VARY_STAR
        return None

    @staticmethod
    def _tags(path: str, surrogate_key: Optional[str]) -> list[str]:
        if surrogate_key and len(surrogate_key) > MAX_SURROGATE_HEADER:
            log.warning("fastcache.http: Surrogate-Key of %d characters on %s; only the first %d are used as tags",
                        len(surrogate_key), path, MAX_SURROGATE_HEADER)
            surrogate_key = surrogate_key[:MAX_SURROGATE_HEADER].rsplit(" ", 1)[0]
        if surrogate_key:
            surrogate_key = " ".join(k for k in surrogate_key.split() if len(k) <= MAX_SURROGATE_KEY)
        return response_tags(path, surrogate_key)

    def tags_of(self, path: str, entry: Entry) -> list[str]:
        """The tags of a stored entry (after a revalidation refreshed it)."""
        return self._tags(path, dict(entry.headers).get("surrogate-key"))

    def entry(self, req: Request, judgement: Judgement, status: int, body: bytes) -> Entry:
        """The entry stored for a complete response."""
        headers = [h for h in judgement.headers if h[0] not in ("content-length", self.x_cache)]
        if status not in (204, 304):
            headers.append(["content-length", str(len(body))])
        vary_values = [req.headers.get(n) for n in judgement.vary]
        assert judgement.cc is not None
        return E.new_entry(status, headers, body, self.timer(), judgement.cc, judgement.lifetime,
                           judgement.header_map, judgement.vary, vary_values, self.add_etag)

    def storage_ttl(self, entry: Entry) -> float:
        """How long the cache keeps an entry: its lifetime, the stale windows, a grace for revalidation."""
        keep = float(entry.lifetime + max(entry.swr, entry.sie))
        if entry.etag is not None or entry.last_modified is not None:
            keep += self.stale_grace
        return max(keep, 1.0)

    def stored_value(self, old: Optional[list[Entry]], entry: Entry) -> list[Any]:
        """The URL's value with entry among its variants (records or lists, as the store takes them)."""
        return E.with_variant(old, entry, self.max_variants, self.store.trusted)

    # -- serving ----------------------------------------------------------------

    def serve(self, req: Request, entry: Entry, label: Label, now: float) -> tuple[int, list[list[str]], bytes]:
        """Status, headers and body for the client from a stored entry."""
        extra = [["age", str(E.age_of(entry, now))]]
        if self.x_cache:
            extra.append([self.x_cache, label.text])
        if E.not_modified(req.headers, entry.etag, entry.last_modified):
            return 304, E.not_modified_headers(entry.headers) + extra, b""
        body = b"" if req.method == "HEAD" else entry.body
        return entry.status, entry.headers + extra, body

    def miss_304_headers(self, judgement: Judgement) -> list[list[str]]:
        """Headers of a 304 answered from the app's full response."""
        extra = [[self.x_cache, MISS.text]] if self.x_cache else []
        return E.not_modified_headers(judgement.headers) + extra

    def miss_conditional(self, req: Request, status: int, judgement: Judgement) -> bool:
        """Whether the client's conditional request matches the app's full response: answer 304
        (the app was asked without the client's conditionals, stored or not)."""
        if status != 200:
            return False
        etag = judgement.header_map.get("etag")
        return E.not_modified(req.headers, etag, E.parse_http_date(judgement.header_map.get("last-modified")))


def validators(entry: Optional[Entry]) -> list[tuple[str, str]]:
    """The conditional request headers that revalidate entry (none for None)."""
    out: list[tuple[str, str]] = []
    if entry is not None:
        if entry.etag is not None:
            out.append(("if-none-match", entry.etag))
        if entry.last_modified is not None:
            out.append(("if-modified-since", E.http_date(entry.last_modified)))
    return out


# -- the steps of an exchange (what the middlewares do next) ------------------------------

class Serve:
    """Answer from the cache (``refresh``: and make that trip to the app in the background)."""

    __slots__ = ("entry", "label", "now", "refresh")

    def __init__(self, entry: Entry, label: Label, now: float, refresh: "Optional[Forward]" = None) -> None:
        self.entry = entry
        self.label = label
        self.now = now
        self.refresh = refresh


class Reject:
    """Answer with an error without asking the app (``only-if-cached`` and nothing stored)."""

    __slots__ = ("status", "body")

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body


class Forward:
    """Ask the app: ``stale`` is the stored entry for this request if any, ``revalidating``
    the same when it has validators (sent as conditionals); ``coalesce``: concurrent
    misses of the URL may wait for this one's response (a GET)."""

    __slots__ = ("stale", "revalidating", "coalesce")

    def __init__(self, stale: Optional[Entry], revalidating: Optional[Entry], coalesce: bool) -> None:
        self.stale = stale
        self.revalidating = revalidating
        self.coalesce = coalesce


class Revalidated:
    """The app answered 304: serve ``entry`` (``updated``: store it, it was refreshed)."""

    __slots__ = ("entry", "updated")

    def __init__(self, entry: Entry, updated: bool) -> None:
        self.entry = entry
        self.updated = updated


class ServeStale:
    """The app failed (or answered 5xx) and stale-if-error covers ``entry``: serve it."""

    __slots__ = ("entry",)

    def __init__(self, entry: Entry) -> None:
        self.entry = entry


def header_pairs(raw: Iterable[tuple[bytes, bytes]]) -> list[list[str]]:
    """ASGI headers as [lowercase name, value] str pairs."""
    return [[k.decode("latin-1").lower(), v.decode("latin-1")] for k, v in raw]
