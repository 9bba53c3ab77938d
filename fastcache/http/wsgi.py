"""Response caching for WSGI apps: :class:`WSGICacheMiddleware`, the same rules as the ASGI one.

::

    app = WSGICacheMiddleware(app, TTLCache(10_000, ttl=3600), rules={"/static/": "static"})

A response the cache will store is read whole (up to ``max_body_size``)
before the server gets it; every other response streams through untouched.
Background refreshes (stale-while-revalidate) run on a small thread pool
(``refresh_workers``); concurrent misses of one URL wait for the first
(single-flight, per process).

Every decision is :class:`~fastcache.http.core.HTTPCacheCore`'s (``lookup``,
``responded``, ``failed``, ``invalidation_targets``), the same for the ASGI
middleware; this module moves bytes, keeps the in-flight table and runs
background refreshes on threads.
"""
from __future__ import annotations

import io
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from http import HTTPStatus
from typing import Any, Callable, Iterable, Iterator, Optional

from . import entry as E
from .core import (HIT, SAFE_METHODS, STALE, Forward, HTTPCacheCore, HTTPCacheStats, Label, Reject, Request,
                   Revalidated, Serve, ServeStale, validators)
from .entry import Entry
from .purge import Purger

__all__ = ("WSGICacheMiddleware",)

log = logging.getLogger("fastcache.http")

StartResponse = Callable[..., Any]
_CGI_HEADERS = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _tuples(headers: list[list[str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers]


class _Flight:
    __slots__ = ("done", "entry")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.entry: Optional[Entry] = None


class _Passthrough:
    """The rest of an app's response, streamed; closes the app's iterable."""

    def __init__(self, head: list[bytes], rest: Iterator[bytes], result: Any) -> None:
        self._head = head
        self._rest = rest
        self._result = result

    def __iter__(self) -> Iterator[bytes]:
        yield from self._head
        yield from self._rest

    def close(self) -> None:
        close = getattr(self._result, "close", None)
        if close is not None:
            close()


class WSGICacheMiddleware:
    """A WSGI middleware caching GET responses in a fastcache cache.

    Options as :class:`~fastcache.http.CacheMiddleware`'s; the cache must be a
    synchronous one (an L1, ``RedisCache``, ``TieredCache``...).
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], cache: Any, *, rules: Any = None, bus: Any = None,
                 cdn: Any = None, refresh_workers: int = 4, **options: Any) -> None:
        if not callable(app):
            raise TypeError("app must be a WSGI application")
        self.app = app
        self.core = HTTPCacheCore(cache, rules=rules, **options)
        if self.core.store.is_async:
            raise TypeError("a WSGI app needs a synchronous cache, not an asyncio one")
        if type(refresh_workers) is not int or refresh_workers < 1:
            raise ValueError(f"refresh_workers must be a positive int, got {refresh_workers!r}")
        self.purger = Purger(self.core.store, bus, cdn)
        self._flights: dict[str, _Flight] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(refresh_workers, thread_name_prefix="fastcache-http-refresh")
        self._refreshing: set[Future[Any]] = set()

    @property
    def stats(self) -> HTTPCacheStats:
        """Hits, misses, stale serves... since the start."""
        return self.core.stats

    def purge(self, path: str) -> int:
        """Drop every cached response for path (any query, any variant), in every process and at the CDN."""
        return self.purger.run("path", path)

    def purge_prefix(self, prefix: str) -> int:
        """Drop every cached response under prefix (``/api/`` or ``/api/users`` and below)."""
        return self.purger.run("prefix", prefix)

    def purge_key(self, key: str) -> int:
        """Drop every cached response tagged key by its Surrogate-Key header."""
        return self.purger.run("key", key)

    def drain(self, timeout: Optional[float] = None) -> None:
        """Wait for background refreshes to finish."""
        for fut in list(self._refreshing):
            fut.result(timeout)

    def close(self) -> None:
        """Finish background refreshes and stop their threads."""
        self._pool.shutdown(wait=True)

    # -- the cache, guarded ------------------------------------------------------------

    def _get(self, key: str) -> Optional[list[Entry]]:
        try:
            value = self.core.store.get(key)
        except Exception as exc:
            log.warning("fastcache.http: cache read failed (%s: %s); going to the app", type(exc).__name__, exc)
            return None
        return E.variants_of(value, key, self.core.store.trusted)

    def _set(self, req: Request, old: Optional[list[Entry]], entry: Entry, tags: list[str]) -> None:
        core = self.core
        try:
            core.store.set(req.key, core.stored_value(old, entry), core.storage_ttl(entry), tags)
            core.count("stored")
        except Exception as exc:
            log.warning("fastcache.http: cache write failed (%s: %s)", type(exc).__name__, exc)

    def _land(self, key: str, flight: Optional[_Flight], entry: Optional[Entry]) -> None:
        if flight is None:
            return
        if not flight.done.is_set():
            flight.entry = entry
            flight.done.set()
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]

    # -- requests -------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        core = self.core
        headers: dict[str, str] = {}
        for k, v in environ.items():
            if k.startswith("HTTP_"):
                headers[k[5:].replace("_", "-").lower()] = v
            elif k in _CGI_HEADERS:
                headers[_CGI_HEADERS[k]] = v
        method = environ["REQUEST_METHOD"]
        host = headers.get("host") or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
        # PEP 3333 hands the path over as latin-1; the ASGI middleware (and purge) see it as UTF-8
        raw_path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        path = raw_path.encode("latin-1", "replace").decode("utf-8", "replace")
        req = core.request(method, host, path, environ.get("QUERY_STRING", ""), headers)
        if method != "GET" and method != "HEAD":
            if method in SAFE_METHODS:
                return self.app(environ, start_response)
            return self._unsafe(environ, start_response, req)

        entries = self._get(req.key)
        step = core.lookup(req, entries)
        if isinstance(step, Serve):
            if step.refresh is not None:
                self._refresh_in_background(environ, req, step.refresh, entries)
            return self._serve(start_response, req, step.entry, step.label, step.now)
        if isinstance(step, Reject):
            start_response(_status_line(step.status), [("content-type", "text/plain; charset=utf-8"),
                                                       ("content-length", str(len(step.body)))])
            return [step.body]
        if not step.coalesce:                  # HEAD: nothing to store, nobody to wait for
            core.count("misses")
            return self._fetch(environ, start_response, req, step, entries, None)

        with self._lock:
            flight = self._flights.get(req.key)
            mine = flight is None
            if mine:
                flight = self._flights[req.key] = _Flight()
        assert flight is not None
        if not mine and core.should_coalesce(req.key):
            core.count("coalesced")
            flight.done.wait(core.coalesce_timeout)
            got = flight.entry
            if core.coalesced_hit(req, got):
                assert got is not None
                return self._serve(start_response, req, got, HIT, core.timer())
        core.count("misses")
        leader = flight if mine else None
        try:
            return self._fetch(environ, start_response, req, step, entries, leader)
        finally:
            self._land(req.key, leader, None)

    def _serve(self, start_response: StartResponse, req: Request, entry: Entry, label: Label,
               now: float) -> list[bytes]:
        status, headers, body = self.core.serve(req, entry, label, now)
        start_response(_status_line(status), _tuples(headers))
        return [body]

    def _refresh_in_background(self, environ: dict[str, Any], req: Request, forward: Forward,
                               entries: Optional[list[Entry]]) -> None:
        with self._lock:
            if req.key in self._flights:
                return                         # a refresh (or a miss) is already on its way
            flight = self._flights[req.key] = _Flight()
        self.core.count("refreshes")
        env = dict(environ)
        env["wsgi.input"] = io.BytesIO(b"")
        env["CONTENT_LENGTH"] = "0"

        def refresh() -> None:
            try:
                result = self._fetch(env, lambda *a: None, req, forward, entries, flight)
                close = getattr(result, "close", None)
                for _ in result:
                    pass
                if close is not None:
                    close()
            except Exception:
                log.exception("fastcache.http: background refresh of %s failed", req.path)
            finally:
                self._land(req.key, flight, None)

        try:
            fut = self._pool.submit(refresh)
        except RuntimeError:                     # closed: no more refreshes
            self._land(req.key, flight, None)
            return
        self._refreshing.add(fut)
        fut.add_done_callback(self._refreshing.discard)

    @staticmethod
    def _upstream_environ(environ: dict[str, Any], revalidating: Optional[Entry]) -> dict[str, Any]:
        env = {k: v for k, v in environ.items() if k not in ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE")}
        if revalidating is not None:
            for name, value in validators(revalidating):
                env["HTTP_" + name.upper().replace("-", "_")] = value
        return env

    def _fetch(self, environ: dict[str, Any], start_response: StartResponse, req: Request, forward: Forward,
               entries: Optional[list[Entry]], flight: Optional[_Flight]) -> Iterable[bytes]:
        core = self.core
        captured: list[Any] = []
        written: list[bytes] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured[:] = [status, headers]
            return written.append

        result: Any = None
        try:
            result = self.app(self._upstream_environ(environ, forward.revalidating), capture)
            iterator = iter(result)
            head: list[bytes] = []
            while not captured:
                try:
                    head.append(next(iterator))
                except StopIteration:
                    break
            if not captured:
                raise RuntimeError("the WSGI app returned without calling start_response")
        except Exception:
            _close(result)
            stale = core.failed(req, forward)
            if stale is None:
                raise
            return self._serve(start_response, req, stale.entry, STALE, core.timer())
        status_line, raw_headers = captured
        status = int(status_line.split(None, 1)[0])
        step = core.responded(req, forward, status, [[k.lower(), v] for k, v in raw_headers])
        if isinstance(step, Revalidated):
            _close(result)
            if step.updated:
                self._set(req, entries, step.entry, core.tags_of(req.path, step.entry))
                self._land(req.key, flight, step.entry)
            return self._serve(start_response, req, step.entry, HIT, core.timer())
        if isinstance(step, ServeStale):
            _close(result)
            return self._serve(start_response, req, step.entry, STALE, core.timer())
        j = step
        if not j.store:
            self._land(req.key, flight, None)
            if core.miss_conditional(req, status, j):
                _close(result)
                start_response("304 Not Modified", _tuples(core.miss_304_headers(j)))
                return [b""]
            start_response(status_line, _tuples(j.headers))
            return _Passthrough(written + head, iterator, result)
        parts = written + head
        size = sum(map(len, parts))
        try:
            for chunk in iterator:
                parts.append(chunk)
                size += len(chunk)
                if size > core.max_body_size:           # too big to keep: stream the rest
                    self._land(req.key, flight, None)
                    start_response(status_line, _tuples(j.headers))
                    return _Passthrough(parts, iterator, result)
        except Exception:
            _close(result)
            stale = core.failed(req, forward)
            if stale is None:
                raise
            return self._serve(start_response, req, stale.entry, STALE, core.timer())
        _close(result)
        body = b"".join(parts)
        new = core.entry(req, j, status, body)
        self._set(req, entries, new, j.tags)
        self._land(req.key, flight, new)
        if core.miss_conditional(req, status, j):
            start_response("304 Not Modified", _tuples(core.miss_304_headers(j)))
            return [b""]
        start_response(status_line, _tuples(j.headers))
        return [body]

    def _unsafe(self, environ: dict[str, Any], start_response: StartResponse, req: Request) -> Iterable[bytes]:
        """A successful POST/PUT/PATCH/DELETE drops the URL (and a same-host Location/Content-Location)."""
        seen: list[Any] = []

        def watch(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen[:] = [status, headers]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        result = self.app(environ, watch)
        return _AfterWrite(result, seen, req, self)

    def _invalidate_after(self, seen: list[Any], req: Request) -> None:
        if not seen:
            return
        keys = self.core.invalidation_targets(req, int(seen[0].split(None, 1)[0]), seen[1])
        if not keys:
            return
        try:
            self.purger.delete_urls(keys)
        except Exception as exc:
            log.warning("fastcache.http: could not invalidate %s (%s: %s)", req.path, type(exc).__name__, exc)


class _AfterWrite:
    """An unsafe request's response; the URL is invalidated once it has been sent."""

    def __init__(self, result: Iterable[bytes], seen: list[Any], req: Request, owner: WSGICacheMiddleware) -> None:
        self._result = result
        self._seen = seen
        self._req = req
        self._owner = owner

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._result)

    def close(self) -> None:
        try:
            _close(self._result)
        finally:
            self._owner._invalidate_after(self._seen, self._req)


def _close(result: Any) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()
