"""Response caching for ASGI apps.

::

    from fastcache import LRUCache
    from fastcache.http import CacheMiddleware

    app = CacheMiddleware(app, LRUCache(10_000), rules={"/static/": "static"})

GET responses the app marks cacheable for a shared cache are stored and
served until they go stale; see :mod:`fastcache.http` for the rules.  The
cache may be any fastcache cache; an asyncio one (``AsyncRedisCache``,
``AsyncTieredCache``) is awaited, a synchronous L1 is called directly (a
synchronous Redis cache would block the event loop - use the asyncio one).
A failing cache never fails a request: the error is logged and the request
goes to the app.

Every decision is :class:`~fastcache.http.core.HTTPCacheCore`'s (``lookup``,
``responded``, ``failed``, ``invalidation_targets``), the same for the WSGI
middleware; this module moves bytes, keeps the in-flight table and runs
background refreshes as tasks.
"""
from __future__ import annotations

import asyncio
import enum
import logging
from typing import Any, Awaitable, Callable, MutableMapping, Optional

from . import entry as E
from .core import (HIT, SAFE_METHODS, STALE, Forward, HTTPCacheCore, HTTPCacheStats, Judgement, Label, Reject,
                   Request, Revalidated, Serve, ServeStale, header_pairs)
from .entry import Entry
from .purge import Purger
from .._impl import PlainHits
from .._py.http_hit import UNREAD as _UNREAD

__all__ = ("CacheMiddleware",)

log = logging.getLogger("fastcache.http")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def _encode(headers: list[list[str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]




async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class FetchMode(enum.Enum):
    """What the middleware does with the app's response, once its start is known."""

    PENDING = "pending"             # no response start yet
    STORE = "store"                 # stream it to the client and keep a copy
    PASS = "pass"                   # stream it through, keep nothing
    REVALIDATED = "revalidated"     # a 304 refreshed the stored entry: serve that instead
    STALE_ERROR = "stale-error"     # a 5xx (or an exception) and stale-if-error: serve the stale copy


_PENDING, _STORE, _PASS, _REVALIDATED, _STALE_ERROR = FetchMode    # constants: see http.core.HIT


class _Fetch:
    """One trip to the app: what came back and what the cache does with it."""

    __slots__ = ("mode", "status", "judgement", "parts", "size", "entry", "started", "quiet")

    def __init__(self) -> None:
        self.mode = _PENDING
        self.status = 0
        self.judgement: Optional[Judgement] = None
        self.parts: list[bytes] = []
        self.size = 0
        self.entry: Optional[Entry] = None      # what to serve (REVALIDATED, STALE_ERROR)
        self.started = False            # the client has been sent a response start
        self.quiet = False              # the client gets no body (a 304)


class CacheMiddleware:
    """An ASGI middleware caching GET responses in a fastcache cache.

    ``rules`` maps path prefixes to Cache-Control policies
    (:class:`~fastcache.http.RouteRules`); ``bus`` (an InvalidationBus) carries
    purges to other processes when the cache is L1-only; ``cdn`` is one or
    more CDN purgers.  Other options are :class:`~fastcache.http.core.HTTPCacheCore`'s:
    ``timer``, ``max_body_size``, ``add_etag``, ``max_variants``,
    ``key_prefix``, ``x_cache_header``, ``surrogate_path_keys``,
    ``hit_for_pass``, ``coalesce_timeout``, ``stale_grace``.
    """

    def __init__(self, app: Callable[..., Awaitable[None]], cache: Any, *, rules: Any = None, bus: Any = None,
                 cdn: Any = None, **options: Any) -> None:
        if not callable(app):
            raise TypeError("app must be an ASGI application")
        self.app = app
        self.core = HTTPCacheCore(cache, rules=rules, **options)
        self.purger = Purger(self.core.store, bus, cdn)
        self._async = self.core.store.is_async
        self._flights: dict[str, asyncio.Future[Optional[Entry]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._encoded: dict[int, tuple[list[Any], list[tuple[bytes, bytes]]]] = {}
        # the common hit's path (fastcache._core.http_hit): a sync cache, and an X-Cache header
        core = self.core
        self._plain = PlainHits(core.store.key, core.store.cache.get, core.store.trusted, core.timer,
                                core.x_cache.encode("latin-1"), HIT.raw, core.stats, core._stats_lock,
                                E.FORMAT, Entry, E.variants_of, _encode) if not self._async and core.x_cache else None

    @property
    def stats(self) -> HTTPCacheStats:
        """Hits, misses, stale serves... since the start."""
        return self.core.stats

    # -- purge ----------------------------------------------------------------------

    async def purge(self, path: str) -> int:
        """Drop every cached response for path (any query, any variant), in every process and at the CDN."""
        return await self.purger.arun("path", path)

    async def purge_prefix(self, prefix: str) -> int:
        """Drop every cached response under prefix (``/api/`` or ``/api/users`` and below)."""
        return await self.purger.arun("prefix", prefix)

    async def purge_key(self, key: str) -> int:
        """Drop every cached response tagged key by its Surrogate-Key header."""
        return await self.purger.arun("key", key)

    async def drain(self) -> None:
        """Wait for background refreshes (stale-while-revalidate) to finish."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- the cache, guarded ------------------------------------------------------------

    async def _get(self, key: str) -> Optional[list[Entry]]:
        try:
            value = self.core.store.get(key)
            if self._async:
                value = await value
        except Exception as exc:
            log.warning("fastcache.http: cache read failed (%s: %s); going to the app", type(exc).__name__, exc)
            return None
        return E.variants_of(value, key, self.core.store.trusted)

    async def _set(self, req: Request, old: Optional[list[Entry]], entry: Entry, tags: list[str]) -> None:
        core = self.core
        try:
            result = core.store.set(req.key, core.stored_value(old, entry), core.storage_ttl(entry), tags)
            if self._async:
                await result
            core.count("stored")
        except Exception as exc:
            log.warning("fastcache.http: cache write failed (%s: %s)", type(exc).__name__, exc)

    # -- requests -------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        read: Any = _UNREAD
        if self._plain is not None and scope["method"] == "GET":
            start, read = self._plain.get(scope)
            if start is not None:
                await send(start)
                await send({"type": "http.response.body", "body": read})
                return
        core = self.core
        headers: dict[str, str] = {}
        for k, v in scope["headers"]:
            name = k.decode("latin-1").lower()
            value = v.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        method = scope["method"]
        host = headers.get("host")
        if host is None:
            server = scope.get("server")
            host = f"{server[0]}:{server[1]}" if server else ""
        req = core.request(method, host, scope["path"], scope.get("query_string", b"").decode("latin-1"), headers)
        if method != "GET" and method != "HEAD":
            if method in SAFE_METHODS:
                await self.app(scope, receive, send)
            else:
                await self._unsafe(scope, receive, send, req)
            return

        entries = await self._get(req.key) if read is _UNREAD else read
        step = core.lookup(req, entries)
        if isinstance(step, Serve):
            if step.refresh is not None and req.key not in self._flights:
                self._refresh_in_background(scope, req, step.refresh, entries)
            await self._serve(send, req, step.entry, step.label, step.now)
            return
        if isinstance(step, Reject):
            await _plain(send, step.status, step.body)
            return
        if not step.coalesce:                  # HEAD: nothing to store, nobody to wait for
            core.count("misses")
            await self._fetch(scope, receive, send, req, step, entries, None)
            return
        flight = self._flights.get(req.key)
        if flight is not None and core.should_coalesce(req.key):
            core.count("coalesced")
            try:
                got = await asyncio.wait_for(asyncio.shield(flight), core.coalesce_timeout)
            except asyncio.TimeoutError:
                got = None
            if core.coalesced_hit(req, got):
                assert got is not None
                await self._serve(send, req, got, HIT, core.timer())
                return
            core.count("misses")
            await self._fetch(scope, receive, send, req, step, entries, None)
            return
        core.count("misses")
        flight = asyncio.get_running_loop().create_future()
        self._flights[req.key] = flight
        try:
            await self._fetch(scope, receive, send, req, step, entries, flight)
        finally:
            self._land(req.key, flight, None)

    def _land(self, key: str, flight: "Optional[asyncio.Future[Optional[Entry]]]", result: Optional[Entry]) -> None:
        if flight is None:
            return
        if not flight.done():
            flight.set_result(result)
        if self._flights.get(key) is flight:
            del self._flights[key]

    async def _serve(self, send: Send, req: Request, entry: Entry, label: Label, now: float) -> None:
        core = self.core
        if req.method == "GET" and core.x_cache and not E.not_modified(req.headers, entry.etag,
                                                                        entry.last_modified):
            # the common hit: the entry's headers encoded once per entry object, not per request
            stored = entry.headers               # the memo keeps the header list alive, never the body
            memo = self._encoded.get(id(stored))
            if memo is None or memo[0] is not stored:
                if len(self._encoded) >= 4096:
                    self._encoded.clear()
                memo = self._encoded[id(stored)] = (stored, _encode(stored))
            headers = memo[1] + [(b"age", str(E.age_of(entry, now)).encode()),
                                 (core.x_cache.encode("latin-1"), label.raw)]
            await send({"type": "http.response.start", "status": entry.status, "headers": headers})
            await send({"type": "http.response.body", "body": entry.body})
            return
        status, pairs, body = core.serve(req, entry, label, now)
        await send({"type": "http.response.start", "status": status, "headers": _encode(pairs)})
        await send({"type": "http.response.body", "body": body})

    def _refresh_in_background(self, scope: Scope, req: Request, forward: Forward,
                               entries: Optional[list[Entry]]) -> None:
        self.core.count("refreshes")
        flight: asyncio.Future[Optional[Entry]] = asyncio.get_running_loop().create_future()
        self._flights[req.key] = flight

        async def refresh() -> None:
            try:
                await self._fetch(scope, _no_body, None, req, forward, entries, flight)
            except Exception:
                log.exception("fastcache.http: background refresh of %s failed", req.path)
            finally:
                self._land(req.key, flight, None)

        task = asyncio.get_running_loop().create_task(refresh())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(self, scope: Scope, receive: Receive, send: Optional[Send], req: Request, forward: Forward,
                     entries: Optional[list[Entry]], flight: "Optional[asyncio.Future[Optional[Entry]]]") -> None:
        """Call the app, streaming its response to the client (send None: nobody) while keeping a copy."""
        core = self.core
        upstream = dict(scope)
        upstream["headers"] = [(k.encode("latin-1"), v.encode("latin-1"))
                               for k, v in core.upstream_headers(req, forward.revalidating)]
        f = _Fetch()

        async def capture(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                await self._on_start(message, f, req, forward, entries, send, flight)
            elif kind == "http.response.body":
                if f.mode is _REVALIDATED or f.mode is _STALE_ERROR:
                    return
                body = message.get("body", b"")
                more = message.get("more_body", False)
                if f.mode is _STORE:
                    # stored before the last chunk goes out: a client that has the response
                    # finds it in the cache on its next request
                    f.size += len(body)
                    if f.size > core.max_body_size:
                        f.mode, f.parts = _PASS, []
                        self._land(req.key, flight, None)
                    else:
                        f.parts.append(body)
                        if not more:
                            await self._store(f, req, entries, flight)
                if send is not None and not f.quiet:
                    await send(message)
                elif send is not None and not more:
                    await send({"type": "http.response.body", "body": b""})
            elif send is not None:
                await send(message)

        try:
            await self.app(upstream, receive, capture)
        except Exception:
            stale = None if f.started else core.failed(req, forward)
            if stale is None:
                raise
            f.mode, f.entry = _STALE_ERROR, stale.entry
        if send is not None and f.entry is not None:
            await self._serve(send, req, f.entry, HIT if f.mode is _REVALIDATED else STALE,
                              core.timer())

    async def _on_start(self, message: Message, f: _Fetch, req: Request, forward: Forward,
                        entries: Optional[list[Entry]], send: Optional[Send],
                        flight: "Optional[asyncio.Future[Optional[Entry]]]") -> None:
        core = self.core
        f.status = status = message["status"]
        step = core.responded(req, forward, status, header_pairs(message.get("headers", ())))
        if isinstance(step, Revalidated):
            f.mode, f.entry = _REVALIDATED, step.entry
            if step.updated:
                await self._set(req, entries, step.entry, core.tags_of(req.path, step.entry))
                self._land(req.key, flight, step.entry)
            return
        if isinstance(step, ServeStale):
            f.mode, f.entry = _STALE_ERROR, step.entry
            return
        f.judgement = step
        f.mode = _STORE if step.store else _PASS
        if not step.store:
            self._land(req.key, flight, None)
        if send is None:
            return
        f.started = True
        if core.miss_conditional(req, status, step):
            f.quiet = True
            await send({"type": "http.response.start", "status": 304,
                        "headers": _encode(core.miss_304_headers(step))})
        else:
            await send({"type": "http.response.start", "status": status, "headers": _encode(step.headers)})

    async def _store(self, f: _Fetch, req: Request, entries: Optional[list[Entry]],
                     flight: "Optional[asyncio.Future[Optional[Entry]]]") -> None:
        assert f.judgement is not None
        new = self.core.entry(req, f.judgement, f.status, b"".join(f.parts))
        f.parts = []
        await self._set(req, entries, new, f.judgement.tags)
        self._land(req.key, flight, new)

    async def _unsafe(self, scope: Scope, receive: Receive, send: Send, req: Request) -> None:
        """POST, PUT, PATCH, DELETE...: a success invalidates the URL (RFC 9111 4.4), Location and
        Content-Location too when they name a path on this host."""
        status = 0
        response_headers: list[tuple[str, str]] = []

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers.extend((k.decode("latin-1"), v.decode("latin-1"))
                                        for k, v in message.get("headers", ()))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            keys = self.core.invalidation_targets(req, status, response_headers)
            if keys:
                try:
                    await self.purger.adelete_urls(keys)
                except Exception as exc:
                    log.warning("fastcache.http: could not invalidate %s (%s: %s)", req.path,
                                type(exc).__name__, exc)


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
