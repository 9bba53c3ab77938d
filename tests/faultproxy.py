"""A fault-injecting TCP proxy for the tests: loopback only, switchable while it runs.

The model is toxiproxy: clients connect to the proxy's port instead of the server's,
and the test changes what the network does between them at any moment::

    proxy = FaultProxy(server_port)          # pass-through
    client = redis.Redis(port=proxy.port)
    proxy.latency(0.2)                        # every chunk, each way, 200 ms late
    proxy.partition()                         # nothing gets through; bytes wait (TCP retransmits)
    proxy.heal()                              # ... and are delivered now, in order
    proxy.reset()                             # every connection, old and new, gets an RST
    proxy.refuse()                            # the port closes: connects are refused
    proxy.trickle(1, 0.001)                   # one byte at a time, 1 ms apart
    proxy.heal()                              # back to pass-through

A partition holds bytes instead of dropping them, as a real one does to a
connection that survives it: a request sent into it is applied once it heals,
though the client may have given up (the "timed out but written" case).  Faults
come from real sockets (resets are RSTs, refusals are ECONNREFUSED), never from
patching a client.
"""
from __future__ import annotations

import enum
import select
import socket
import struct
import threading
import time
from typing import Optional

__all__ = ("FaultProxy", "Fault")


class Fault(enum.Enum):
    """What the proxy does to traffic."""

    PASS = "pass"
    LATENCY = "latency"
    PARTITION = "partition"
    RESET = "reset"
    REFUSE = "refuse"
    TRICKLE = "trickle"


def _rst(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0), as a crashed peer or a middlebox does."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def _stop_listening(sock: socket.socket) -> None:
    """Stop accepting at once (shutdown wakes a thread blocked in accept), then close."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class _Link:
    """One client connection and its upstream connection, pumped both ways."""

    def __init__(self, proxy: "FaultProxy", client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: Optional[socket.socket] = None
        self.closed = threading.Event()
        self.lock = threading.Lock()
        self.half_closed = 0

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True, name="faultproxy-link").start()

    def _run(self) -> None:
        try:
            # Connect upstream only when traffic may pass (a partition holds the connect too).
            while not self.closed.is_set():
                if self.proxy.fault in (Fault.PARTITION,):
                    time.sleep(0.005)
                    continue
                if self.proxy.fault in (Fault.RESET, Fault.REFUSE):
                    self.kill()
                    return
                break
            if self.closed.is_set():
                return
            self.upstream = socket.create_connection(("127.0.0.1", self.proxy.upstream_port), timeout=5)
            self.upstream.settimeout(None)
        except OSError:
            self.kill()
            return
        threading.Thread(target=self._pump, args=(self.client, self.upstream), daemon=True,
                         name="faultproxy-up").start()
        self._pump(self.upstream, self.client)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        held = bytearray()
        proxy = self.proxy
        while not self.closed.is_set():
            fault = proxy.fault
            if fault in (Fault.RESET, Fault.REFUSE):
                self.kill()
                return
            if fault is not Fault.PARTITION and held:
                if not self._send(dst, bytes(held), fault):
                    return
                held.clear()
            try:
                ready, _, _ = select.select([src], [], [], 0.01)
            except (OSError, ValueError):
                self.kill()
                return
            if not ready:
                continue
            try:
                data = src.recv(65536)
            except OSError:
                self.kill()
                return
            if not data:
                # The sender closed.  Bytes it sent before closing still arrive once a
                # partition heals (as TCP retransmits them, FIN last); then the close.
                while held and proxy.fault is Fault.PARTITION and not self.closed.is_set():
                    time.sleep(0.005)
                if held and not self.closed.is_set():
                    self._send(dst, bytes(held), proxy.fault)
                self._half_close(dst)
                return
            if proxy.fault is Fault.PARTITION:
                held += data            # delivered when the partition heals
                continue
            if not self._send(dst, data, proxy.fault):
                return

    def _send(self, dst: socket.socket, data: bytes, fault: Fault) -> bool:
        proxy = self.proxy
        try:
            if fault is Fault.LATENCY:
                time.sleep(proxy.delay)
                dst.sendall(data)
            elif fault is Fault.TRICKLE:
                for i in range(0, len(data), proxy.chunk):
                    if self.closed.is_set():
                        return False
                    dst.sendall(data[i:i + proxy.chunk])
                    time.sleep(proxy.delay)
            else:
                dst.sendall(data)
            return True
        except OSError:
            self.kill()
            return False

    def _half_close(self, dst: socket.socket) -> None:
        """Pass a FIN on; the link ends when both directions have."""
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self.lock:
            self.half_closed += 1
            done = self.half_closed == 2
        if done:
            self.kill()

    def kill(self) -> None:
        """Reset both sides."""
        with self.lock:
            if self.closed.is_set():
                return
            self.closed.set()
        _rst(self.client)
        if self.upstream is not None:
            _rst(self.upstream)
        self.proxy._forget(self)


class FaultProxy:
    """A TCP proxy on 127.0.0.1 in front of ``upstream_port``; see the module docstring."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.fault = Fault.PASS
        self.delay = 0.0
        self.chunk = 1
        self._links: set[_Link] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._listener: Optional[socket.socket] = None
        self.port = 0
        self._listen()
        threading.Thread(target=self._accept_loop, daemon=True, name="faultproxy-accept").start()

    @property
    def url(self) -> str:
        """A redis:// URL through the proxy."""
        return f"redis://127.0.0.1:{self.port}/0"

    # -- faults -------------------------------------------------------------------

    def heal(self) -> None:
        """Pass traffic through again (held bytes are delivered; a refused port reopens)."""
        self.fault = Fault.PASS
        if self._listener is None:
            self._listen()

    def latency(self, seconds: float) -> None:
        """Delay every chunk, each way, by ``seconds``."""
        self.delay = seconds
        self.fault = Fault.LATENCY

    def partition(self) -> None:
        """Let nothing through, either way; connections stay open and bytes wait."""
        self.fault = Fault.PARTITION

    def reset(self) -> None:
        """RST every open connection; new ones are accepted and reset at once."""
        self.fault = Fault.RESET
        self._kill_all()

    def refuse(self) -> None:
        """Close the port (connects are refused) and reset every open connection."""
        self.fault = Fault.REFUSE
        listener, self._listener = self._listener, None
        if listener is not None:
            _stop_listening(listener)
        self._kill_all()

    def trickle(self, chunk: int = 1, delay: float = 0.001) -> None:
        """Forward ``chunk`` bytes at a time, ``delay`` seconds apart (slow, partial writes)."""
        self.chunk, self.delay = chunk, delay
        self.fault = Fault.TRICKLE

    def connections(self) -> int:
        """Open client connections."""
        with self._lock:
            return len(self._links)

    def close(self) -> None:
        self._stopped.set()
        listener, self._listener = self._listener, None
        if listener is not None:
            _stop_listening(listener)
        self._kill_all()

    # -- internals ----------------------------------------------------------------

    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(128)
        sock.settimeout(0.05)
        self.port = sock.getsockname()[1]
        self._listener = sock

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            listener = self._listener
            if listener is None:
                time.sleep(0.01)
                continue
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                time.sleep(0.01)        # closed by refuse(); reopened by heal()
                continue
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.fault in (Fault.RESET, Fault.REFUSE):
                _rst(client)
                continue
            link = _Link(self, client)
            with self._lock:
                self._links.add(link)
            link.start()

    def _kill_all(self) -> None:
        with self._lock:
            links = list(self._links)
        for link in links:
            link.kill()

    def _forget(self, link: _Link) -> None:
        with self._lock:
            self._links.discard(link)

    def __enter__(self) -> "FaultProxy":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
