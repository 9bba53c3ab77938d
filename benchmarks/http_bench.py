"""HTTP caching speed: requests per second cached vs uncached, and the middleware's cost.

Run:  pip install '.[bench]' && python benchmarks/http_bench.py [--quick]

1. Requests per second through a real uvicorn process (``benchmarks/http_app.py``:
   an emulated 2 ms query plus rendering 100 JSON rows) for ``/cached``
   (served by CacheMiddleware from an LRUCache), ``/uncached`` (``no-store``:
   through the middleware to the handler every time) and ``/bare`` (the
   handler without middleware).  The load comes from this process: keep-alive
   connections on raw sockets, one thread each.  Client and server share this
   machine's cores, so the ratios are what to compare.
2. In-process cost per request, calling the ASGI and WSGI apps directly
   (no server, no sockets): a trivial app alone, the middleware serving a
   hit, and the middleware passing an uncacheable response through.  The
   overhead on a hit is the hit time minus the trivial app's.

Every figure is a median over rounds run interleaved in one process.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))


# -- 1. a real server ------------------------------------------------------------------

def _load(port: int, path: str, seconds: float, connections: int) -> float:
    """Requests per second from `connections` keep-alive clients for `seconds`."""
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    counts = [0] * connections
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        while time.monotonic() < stop:
            sock.sendall(request)
            while b"\r\n\r\n" not in buf:
                buf += sock.recv(65536)
            head, _, buf = buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            while len(buf) < length:
                buf += sock.recv(65536)
            buf = buf[length:]
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head[:100])
            counts[i] += 1
        sock.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - start)


def server_rps(rounds: int, seconds: float, connections: int) -> dict[str, float]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "http_app:app", "--port", str(port),
                             "--log-level", "warning", "--no-access-log"], cwd=HERE)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        _load(port, "/cached", 0.5, connections)          # warm up (and fill the cache)
        runs: dict[str, list[float]] = {"/cached": [], "/uncached": [], "/bare": []}
        for _ in range(rounds):
            for path in runs:
                runs[path].append(_load(port, path, seconds, connections))
        return {path: statistics.median(v) for path, v in runs.items()}
    finally:
        proc.terminate()
        proc.wait(10)


# -- 2. in process ---------------------------------------------------------------------

def _asgi_cases() -> dict[str, Callable[[], Any]]:
    from fastcache import LRUCache
    from fastcache.http import CacheMiddleware
    body = b"x" * 2000

    async def trivial(scope: Any, receive: Any, send: Any) -> None:
        policy = b"no-store" if scope["path"] == "/pass" else b"public, max-age=600"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"cache-control", policy)]})
        await send({"type": "http.response.body", "body": body})

    mw = CacheMiddleware(trivial, LRUCache(100))
    headers = [(b"host", b"bench"), (b"user-agent", b"bench/1.0"), (b"accept", b"*/*"),
               (b"accept-encoding", b"gzip")]

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        pass

    def scope(path: str) -> dict[str, Any]:
        return {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": headers}
    loop = asyncio.new_event_loop()
    loop.run_until_complete(mw(scope("/hit"), receive, send))

    def batch(app: Any, path: str) -> Callable[[], Any]:
        s = scope(path)

        async def many() -> None:
            for _ in range(2000):
                await app(s, receive, send)
        return lambda: loop.run_until_complete(many())
    return {"ASGI trivial app alone": batch(trivial, "/hit"), "ASGI middleware hit": batch(mw, "/hit"),
            "ASGI middleware pass-through (no-store)": batch(mw, "/pass")}


def _wsgi_cases() -> dict[str, Callable[[], Any]]:
    from fastcache import LRUCache
    from fastcache.http import WSGICacheMiddleware
    body = b"x" * 2000

    def trivial(environ: Any, start_response: Any) -> Any:
        policy = "no-store" if environ["PATH_INFO"] == "/pass" else "public, max-age=600"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Cache-Control", policy)])
        return [body]

    mw = WSGICacheMiddleware(trivial, LRUCache(100))

    def environ(path: str) -> dict[str, Any]:
        return {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "bench",
                "SERVER_PORT": "80", "HTTP_HOST": "bench", "HTTP_USER_AGENT": "bench/1.0", "HTTP_ACCEPT": "*/*",
                "HTTP_ACCEPT_ENCODING": "gzip", "wsgi.url_scheme": "http"}

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        pass

    def drain(result: Any) -> None:
        for _ in result:
            pass
        close = getattr(result, "close", None)
        if close is not None:
            close()
    drain(mw(environ("/hit"), start_response))

    def batch(app: Any, path: str) -> Callable[[], Any]:
        env = environ(path)

        def many() -> None:
            for _ in range(2000):
                drain(app(dict(env), start_response))
        return many
    return {"WSGI trivial app alone": batch(trivial, "/hit"), "WSGI middleware hit": batch(mw, "/hit"),
            "WSGI middleware pass-through (no-store)": batch(mw, "/pass")}


def in_process(rounds: int) -> dict[str, float]:
    """Microseconds per request, median over rounds (each round runs every case once, interleaved)."""
    cases = {**_asgi_cases(), **_wsgi_cases()}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, run in cases.items():
            start = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - start) / 2000 * 1e6)
    return {name: statistics.median(v) for name, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke test, not figures)")
    args = parser.parse_args()
    rounds, seconds = (1, 0.5) if args.quick else (5, 3.0)
    print(f"python benchmarks/http_bench.py{' --quick' if args.quick else ''}\n")
    rps = server_rps(rounds, seconds, connections=8)
    print("| uvicorn, 8 keep-alive connections | requests/s | vs uncached |\n|---|---|---|")
    for path, label in (("/cached", "cached (`max-age=60`, LRUCache)"), ("/uncached", "uncached (`no-store`)"),
                        ("/bare", "no middleware")):
        print(f"| {label} | {rps[path]:,.0f} | {rps[path] / rps['/uncached']:.2f}x |")
    us = in_process(3 if args.quick else 15)
    print("\n| in process, per request | µs |\n|---|---|")
    for name, value in us.items():
        print(f"| {name} | {value:.2f} |")
    for kind in ("ASGI", "WSGI"):
        hit = us[f"{kind} middleware hit"] - us[f"{kind} trivial app alone"]
        passing = us[f"{kind} middleware pass-through (no-store)"] - us[f"{kind} trivial app alone"]
        print(f"\n{kind}: a hit costs {hit:+.2f} µs over the trivial app; "
              f"passing an uncacheable response through costs {passing:+.2f} µs")


if __name__ == "__main__":
    main()
