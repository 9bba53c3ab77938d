"""An origin app (ASGI and WSGI faces of one object) and real servers on loopback for the HTTP tests.

``Origin`` holds routes: a path maps to a function of the request headers
returning ``(status, headers, body)`` - or raising, to play a failing app.
It counts calls per path.  ``serve(kind, wrap)`` runs ``wrap(origin_app)``
under uvicorn (ASGI) or the standard library's threaded WSGI server, in a
thread, and yields its base URL.
"""
from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections import Counter
from typing import Any, Callable, Iterator, Optional
import socketserver
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

Handler = Callable[[dict[str, str]], tuple[int, dict[str, str], bytes]]


class Origin:
    """The app behind the cache: routes, call counts, and a gate to hold responses back."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.calls: Counter[str] = Counter()
        self.seen: list[tuple[str, str, dict[str, str]]] = []     # (method, path, request headers)
        self.gate = threading.Event()
        self.gate.set()
        self.lock = threading.Lock()

    def route(self, path: str, status: int = 200, headers: Optional[dict[str, str]] = None,
              body: bytes = b"ok") -> None:
        """A fixed response for path; the body gets the call number appended, so copies are recognisable."""
        def handler(req: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
            return status, dict(headers or {}), body + b"#" + str(self.calls[path]).encode()
        self.routes[path] = handler

    def arrive(self, method: str, path: str, headers: dict[str, str]) -> None:
        """Count a request (before the gate, so tests see requests that are being held)."""
        with self.lock:
            self.calls[path] += 1
            self.seen.append((method, path, headers))

    def handle(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        handler = self.routes.get(path)
        if handler is None:
            return 404, {"content-type": "text/plain"}, b"no route"
        return handler(headers)

    # -- ASGI -------------------------------------------------------------------

    async def asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.arrive(scope["method"], scope["path"], headers)
        while not self.gate.is_set():
            await asyncio.sleep(0.002)
        status, out, body = self.handle(scope["path"], headers)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in out.items()]})
        if scope["method"] == "HEAD":
            body = b""
        half = len(body) // 2            # two chunks: the cache must join a streamed body
        await send({"type": "http.response.body", "body": body[:half], "more_body": True})
        await send({"type": "http.response.body", "body": body[half:]})

    # -- WSGI -------------------------------------------------------------------

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        path = environ["PATH_INFO"].encode("latin-1").decode("utf-8")
        self.arrive(environ["REQUEST_METHOD"], path, headers)
        self.gate.wait(30)
        status, out, body = self.handle(path, headers)
        start_response(f"{status} X", list(out.items()))
        if environ["REQUEST_METHOD"] == "HEAD":
            return [b""]
        half = len(body) // 2
        return iter([body[:half], body[half:]])


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """The standard library's WSGI server, a thread per request."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """uvicorn serving app in a thread; yields the base URL."""
    import uvicorn
    sock = _free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(1000):
            if server.started:
                break
            threading.Event().wait(0.01)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextlib.contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """The standard library's threaded WSGI server in a thread; yields the base URL."""
    httpd = make_server("127.0.0.1", 0, app, server_class=ThreadingWSGIServer, handler_class=_QuietHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)
