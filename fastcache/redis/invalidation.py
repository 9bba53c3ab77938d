"""Cross-process L1 invalidation over Redis pub/sub.

Every ``TieredCache`` on a namespace publishes, after each write or delete
it makes in L2, a message on ``fastcache:invalidate:<namespace>``::

    {"o": "<origin id>", "r": "set" | "delete" | "clear" | "tag" | ..., "k": [["s", "user:1"], ...] | null,
     "t": ["tag", ...]}                # "t" only for tag purges and user events

Keys carry their type (``s`` str, ``i`` int, ``b`` bytes as base64) so a
listener drops exactly the L1 key that was written; ``k: null`` means
"drop everything".  Each process's listener thread drops those keys from
its L1 (ignoring its own messages).  Pub/sub is fire-and-forget, so every
(re)subscription, and every lost connection, flushes L1: whatever was
missed while not listening cannot be served stale afterwards.  A connection
can also die silently (a partition: nothing arrives, nothing fails), so a
subscription that has been quiet for ``health_interval`` seconds is sent a
PING, and one that does not answer within ``health_timeout`` counts as lost.
"""
from __future__ import annotations

import asyncio
import base64
import enum
import json
import logging
import threading
import time
import uuid
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from ..tags import check_tag

log = logging.getLogger("fastcache.invalidation")

__all__ = ("encode_message", "decode_message", "InvalidationListener", "new_origin", "TrackingListener",
           "AsyncTrackingListener", "TRACKING_CHANNEL", "cluster_masters", "cluster_shards",
           "node_client", "shard_channels", "shard_bucket")


def new_origin() -> str:
    """A process-unique id for messages this cache publishes."""
    return uuid.uuid4().hex


def _tag(key: Any) -> list[Any]:
    if isinstance(key, str):
        return ["s", key]
    if isinstance(key, bool):
        raise TypeError("bool keys cannot be invalidated remotely")
    if isinstance(key, int):
        return ["i", int(key)]
    if isinstance(key, (bytes, bytearray)):
        return ["b", base64.b64encode(bytes(key)).decode("ascii")]
    raise TypeError(f"keys must be str, bytes or int, not {type(key).__name__}")


def _untag(item: Any) -> Any:
    kind, value = item
    if kind == "s" and isinstance(value, str):
        return value
    if kind == "i" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "b" and isinstance(value, str):
        return base64.b64decode(value.encode("ascii"), validate=True)
    raise ValueError(f"bad key tag {kind!r}")


def key_member(key: Any) -> bytes:
    """A typed key as bytes (a tag set's member); :func:`member_key` reverses it."""
    return json.dumps(_tag(key), separators=(",", ":")).encode("utf-8")


def member_key(member: bytes) -> Any:
    """The key :func:`key_member` encoded; ValueError if it is not one."""
    try:
        return _untag(json.loads(member))
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"not an encoded key: {member!r}") from exc


def encode_message(origin: str, reason: str, keys: Optional[Iterable[Any]],
                   tags: Optional[Iterable[str]] = None) -> bytes:
    """The pub/sub payload for an invalidation (keys None and no tags: everything)."""
    msg: dict[str, Any] = {"o": origin, "r": reason, "k": None if keys is None else [_tag(k) for k in keys]}
    if tags is not None:
        msg["t"] = [check_tag(t) for t in tags]
    return json.dumps(msg, separators=(",", ":")).encode("utf-8")


def decode_message(data: Any) -> tuple[str, str, Optional[list[Any]], Optional[list[str]]]:
    """(origin, reason, keys or None, tags or None); ValueError if it is not one of ours."""
    try:
        msg = json.loads(data)
        origin, reason, keys, tags = msg["o"], msg["r"], msg["k"], msg.get("t")
        if not isinstance(origin, str) or not isinstance(reason, str):
            raise ValueError("bad origin or reason")
        if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) and t for t in tags)):
            raise ValueError("bad tags")
        return origin, reason, None if keys is None else [_untag(k) for k in keys], tags
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        # RecursionError: deeply nested JSON from a foreign publisher (b"[" * 5000) - found
        # by tests/test_fuzz.py; it used to escape and cost a reconnect and an L1 flush
        raise ValueError(f"not an invalidation message: {exc}") from exc


OnKeys = Callable[[Optional[list[Any]], str, Optional[list[str]]], None]


class Health(enum.Enum):
    """What a subscription's health check asks for now."""

    FINE = 0
    PING = 1        # quiet for a while: send a PING through it
    DEAD = 2        # the PING went unanswered: treat the connection as lost


class HealthCheck:
    """When to PING a quiet subscription and when to give it up (no I/O: the caller
    reports what it heard and does what :meth:`due` says)."""

    __slots__ = ("interval", "timeout", "heard", "pinged")

    def __init__(self, interval: float, timeout: float, now: float) -> None:
        self.interval = interval
        self.timeout = timeout
        self.heard = now
        self.pinged: Optional[float] = None

    def heard_from(self, now: float) -> None:
        """Something (a message, a pong, a confirmation) arrived."""
        self.heard = now
        self.pinged = None

    def due(self, now: float) -> Health:
        if self.pinged is not None:
            return Health.DEAD if now - self.pinged > self.timeout else Health.FINE
        if now - self.heard >= self.interval:
            self.pinged = now
            return Health.PING
        return Health.FINE


class SubscriptionSilent(ConnectionError):
    """A subscription did not answer its health check's PING."""


def _dispatch(channel: bytes, own_origin: str, data: Any, on_keys: OnKeys) -> bool:
    """Decode a message and pass it on unless it is ours; whether it was passed."""
    try:
        origin, reason, keys, tags = decode_message(data)
    except ValueError as exc:
        log.warning("ignoring a message on %r: %s", channel, exc)
        return False
    if origin == own_origin:
        return False
    try:
        on_keys(keys, reason, tags)
    except Exception:                       # pragma: no cover - the callback is ours
        log.exception("invalidation callback failed")
    return True


class _ListenerState:
    """What the thread and the asyncio listeners share: per-client subscription
    state, back-off, resets and message handling.  Subclasses own the I/O."""

    connected: Any                      # threading.Event or asyncio.Event (same set/clear)

    def _init_state(self, n_clients: int, channel: bytes, origin: str,
                    on_keys: OnKeys, on_reset: Callable[[], None],
                    retry_delay: float, max_retry_delay: float,
                    health_interval: float, health_timeout: float) -> None:
        if not (health_interval > 0 and health_timeout > 0):
            raise ValueError("health_interval and health_timeout must be positive numbers of seconds")
        self._health = (float(health_interval), float(health_timeout))
        self.channel = channel
        self.origin = origin
        self._on_keys = on_keys
        self._on_reset = on_reset
        self.received = 0
        self.resets = 0
        self._retry = (retry_delay, max_retry_delay)
        self._subscribed = [False] * n_clients
        self._lost = [False] * n_clients            # an outage was logged, not yet its end
        self._delay = [retry_delay] * n_clients

    def _mark(self, index: int, subscribed: bool) -> None:
        self._subscribed[index] = subscribed
        if all(self._subscribed):
            self.connected.set()
        else:
            self.connected.clear()

    def _reset(self) -> None:
        self.resets += 1
        try:
            self._on_reset()
        except Exception:                       # pragma: no cover - the callback is ours
            log.exception("invalidation reset callback failed")

    _shard_channels: tuple[bytes, ...] = ()

    def _on_message(self, index: int, msg: Mapping[str, Any]) -> None:
        kind = msg["type"]
        if kind == "sunsubscribe":          # the server dropped a shard channel (its slot moved)
            raise ConnectionError(f"shard channel {msg.get('channel')!r} moved")
        if kind in ("subscribe", "ssubscribe"):
            self._established(index)
        elif kind in ("message", "smessage") and self._deliver(msg["data"]):
            self.received += 1

    def _established(self, index: int) -> None:
        """Listening (again) on client ``index``: the first subscription, redis-py
        resubscribing after a reconnect, tracking enabled on a new connection - anything
        published meanwhile was missed."""
        self._reset()
        self._mark(index, True)
        if self._lost[index]:
            log.warning("invalidation channel %r is back; L1 flushed", self.channel)
        self._lost[index] = False
        self._delay[index] = self._retry[0]

    def _deliver(self, data: Any) -> bool:
        """Pass a message's keys on (unless it is this process's own); whether it was."""
        return _dispatch(self.channel, self.origin, data, self._on_keys)

    def _health_check(self) -> HealthCheck:
        return HealthCheck(*self._health, time.monotonic())

    def _silent(self) -> SubscriptionSilent:
        return SubscriptionSilent(f"no answer to a PING within {self._health[1]} s")

    def _on_failure(self, index: int, exc: BaseException) -> float:
        """Messages may be lost: drop what L1 holds; how long to wait before retrying."""
        self._mark(index, False)
        self._reset()
        if not self._lost[index]:
            log.warning("invalidation channel %r lost (%s: %s); L1 flushed, reconnecting",
                        self.channel, type(exc).__name__, exc)
            self._lost[index] = True
        delay = self._delay[index]
        self._delay[index] = min(delay * 2, self._retry[1])
        return delay


class InvalidationListener(_ListenerState):
    """A daemon thread per Redis client, subscribed to one channel.

    ``on_keys(keys, reason, tags)`` gets each message from another origin
    (keys None and tags None: flush); ``on_reset()`` is called on every (re)subscription and
    every lost connection.  ``connected`` is set while subscribed
    everywhere.  A subscription quiet for ``health_interval`` seconds is pinged; no
    answer within ``health_timeout`` counts as a lost connection.  ``shard_channels``: listen
    on those shard channels (SSUBSCRIBE, Redis >= 7.0) instead of ``channel``; the server
    dropping one (its slot moved) counts as a lost connection.
    """

    def __init__(self, clients: Sequence[Any], channel: bytes, origin: str,
                 on_keys: OnKeys, on_reset: Callable[[], None],
                 *, retry_delay: float = 0.05, max_retry_delay: float = 2.0,
                 health_interval: float = 1.0, health_timeout: float = 1.0,
                 shard_channels: Sequence[bytes] = ()) -> None:
        self._init_state(len(clients), channel, origin, on_keys, on_reset, retry_delay, max_retry_delay,
                         health_interval, health_timeout)
        self._shard_channels = tuple(shard_channels)
        self._stop = threading.Event()
        self.connected = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i, c), name=f"fastcache-invalidation-{i}",
                                          daemon=True) for i, c in enumerate(clients)]
        for t in self._threads:
            t.start()

    def _run(self, index: int, client: Any) -> None:
        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=False)
                for shard_channel in self._shard_channels:      # one slot per SSUBSCRIBE
                    pubsub.ssubscribe(shard_channel)
                if not self._shard_channels:
                    pubsub.subscribe(self.channel)
                health = self._health_check()
                while not self._stop.is_set():
                    msg = pubsub.get_message(timeout=0.2)
                    if msg is not None:
                        health.heard_from(time.monotonic())
                        self._on_message(index, msg)
                        continue
                    due = health.due(time.monotonic())
                    if due is Health.PING:
                        pubsub.ping()
                    elif due is Health.DEAD:
                        raise self._silent()
            except Exception as exc:
                self._stop.wait(self._on_failure(index, exc))
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        pass

    def wait_connected(self, timeout: float = 5.0) -> bool:
        """Block until subscribed on every client (or timeout); whether we are."""
        return bool(self.connected.wait(timeout))

    def close(self, timeout: float = 2.0) -> None:
        """Stop listening."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))


class AsyncInvalidationListener(_ListenerState):
    """:class:`InvalidationListener` for ``redis.asyncio`` clients: one task per client."""

    def __init__(self, clients: Sequence[Any], channel: bytes, origin: str,
                 on_keys: OnKeys, on_reset: Callable[[], None],
                 *, retry_delay: float = 0.05, max_retry_delay: float = 2.0,
                 health_interval: float = 1.0, health_timeout: float = 1.0,
                 shard_channels: Sequence[bytes] = ()) -> None:
        self._init_state(len(clients), channel, origin, on_keys, on_reset, retry_delay, max_retry_delay,
                         health_interval, health_timeout)
        self._shard_channels = tuple(shard_channels)
        self._closed = False
        self.connected = asyncio.Event()
        self._tasks = [asyncio.get_running_loop().create_task(self._run(i, c)) for i, c in enumerate(clients)]

    async def _run(self, index: int, client: Any) -> None:
        # The loops also check _closed: redis-py may swallow a cancellation
        # while it reconnects, and close() must still end this task.
        while not self._closed:
            pubsub = None
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=False)
                for shard_channel in self._shard_channels:      # one slot per SSUBSCRIBE
                    await pubsub.ssubscribe(shard_channel)
                if not self._shard_channels:
                    await pubsub.subscribe(self.channel)
                health = self._health_check()
                while not self._closed:
                    msg = await pubsub.get_message(timeout=0.2)
                    if msg is not None:
                        health.heard_from(time.monotonic())
                        self._on_message(index, msg)
                        continue
                    due = health.due(time.monotonic())
                    if due is Health.PING:
                        await pubsub.ping()
                    elif due is Health.DEAD:
                        raise self._silent()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._closed:
                    return
                await asyncio.sleep(self._on_failure(index, exc))
            finally:
                if pubsub is not None:
                    try:                    # bounded: closing a link to a dead server may stall
                        await asyncio.wait_for(pubsub.aclose(), 1.0)
                    except (Exception, asyncio.CancelledError):
                        pass

    async def wait_connected(self, timeout: float = 5.0) -> bool:
        """Wait until subscribed on every client (or timeout); whether we are."""
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def close(self, timeout: float = 2.0) -> None:
        """Stop listening (waiting at most ``timeout`` seconds for the tasks to end)."""
        self._closed = True
        for t in self._tasks:
            t.cancel()
        await asyncio.wait(self._tasks, timeout=timeout)


# -- server-assisted invalidation: Redis client tracking ---------------------------------
#
# With ``CLIENT TRACKING ON REDIRECT <id> BCAST PREFIX <namespace>`` Redis itself tells a
# connection about every change to a key under the namespace - a write by any client, in
# any language, a Lua script, an EXPIRE, a key expiring or evicted inside Redis.  On RESP2
# (every Redis >= 6.0 and every redis-py) the messages go, as pub/sub messages on
# ``__redis__:invalidate``, to the connection named by REDIRECT: here the subscribing
# connection itself, which enables tracking right after connecting, before it subscribes.
# Its payload is the list of Redis keys (null: a FLUSHDB/FLUSHALL - everything).  Tracking
# lives and dies with that connection; every (re)connect enables it again and, as for
# pub/sub, flushes L1, since whatever changed meanwhile was not reported.

TRACKING_CHANNEL = b"__redis__:invalidate"


def _tracking_args(client_id: Any, prefix: bytes) -> list[Any]:
    """CLIENT TRACKING ON in BCAST mode for prefix, redirected to client_id (None: RESP3,
    to the connection itself)."""
    args: list[Any] = ["CLIENT", "TRACKING", "ON"]
    if client_id is not None:
        args += ["REDIRECT", client_id]
    args.append("BCAST")
    if prefix:
        args += ["PREFIX", prefix]
    return args


def _expect_ok(reply: Any) -> None:
    if reply not in (b"OK", "OK"):
        raise ConnectionError(f"CLIENT TRACKING was refused: {reply!r}")


def _resp2_options(pool: Any) -> dict[str, Any]:
    """The pool's connection options for a RESP2 connection: redis-py's own per-pool state
    (maintenance notifications, which need RESP3, and the addresses it keeps for them) left out."""
    return {k: v for k, v in pool.connection_kwargs.items()
            if not k.startswith(("maint_notifications", "orig_")) and k != "himport_registry"}


def speaks_resp3(client: Any) -> bool:
    """Whether a redis-py client's connections use RESP3 (``protocol=3``)."""
    return str(client.connection_pool.connection_kwargs.get("protocol", 2)) == "3"


def tracking_client(client: Any, prefix: bytes) -> Any:
    """A redis-py client to the server of ``client`` whose connections, as they connect,
    enable BCAST tracking of ``prefix``: on RESP3 (when ``client`` speaks it) reported to
    the connection itself as push messages, else (RESP2) redirected to itself, to be read
    as pub/sub messages once it subscribes to ``__redis__:invalidate``."""
    import redis
    pool = client.connection_pool
    resp3 = speaks_resp3(client)

    def connect(conn: Any) -> None:
        conn.on_connect()
        if resp3:
            conn.send_command(*_tracking_args(None, prefix))
        else:
            conn.send_command("CLIENT", "ID")
            client_id = conn.read_response()
            conn.send_command(*_tracking_args(client_id, prefix))
        _expect_ok(conn.read_response())

    kwargs = {**_resp2_options(pool), "protocol": 3 if resp3 else 2, "redis_connect_func": connect}
    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))


def async_tracking_client(client: Any, prefix: bytes) -> Any:
    """:func:`tracking_client` for a ``redis.asyncio`` client."""
    import redis.asyncio
    pool = client.connection_pool
    resp3 = speaks_resp3(client)

    async def connect(conn: Any) -> None:
        await conn.on_connect()
        if resp3:
            await conn.send_command(*_tracking_args(None, prefix))
        else:
            await conn.send_command("CLIENT", "ID")
            client_id = await conn.read_response()
            await conn.send_command(*_tracking_args(client_id, prefix))
        _expect_ok(await conn.read_response())

    kwargs = {**_resp2_options(pool), "protocol": 3 if resp3 else 2, "redis_connect_func": connect}
    return redis.asyncio.Redis(
        connection_pool=redis.asyncio.ConnectionPool(connection_class=pool.connection_class, **kwargs))


def tracked_keys(data: Any, prefix: bytes) -> Optional[list[Any]]:
    """The L1 keys a tracking message names (None: everything).  A Redis key says nothing of
    the type of the cache key it was made from, so each is named in every form that maps to
    it: bytes, str (UTF-8) and int (canonical decimal) - dropping a form L1 does not hold is
    harmless.  Keys outside the namespace are left out; ValueError for a payload that is not
    a list of keys."""
    if data is None:
        return None
    if not isinstance(data, list):
        raise ValueError(f"not a tracking message: {type(data).__name__}")
    out: list[Any] = []
    n = len(prefix)
    for rkey in data:
        if isinstance(rkey, str):
            rkey = rkey.encode("utf-8")
        if not isinstance(rkey, bytes):
            raise ValueError(f"not a key: {type(rkey).__name__}")
        if not rkey.startswith(prefix):
            continue
        raw = rkey[n:]
        out.append(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        out.append(text)
        if text.isascii() and text.lstrip("-").isdigit() and str(int(text)) == text:
            out.append(int(text))
    return out


class _TrackingMessages:
    """Tracking's messages (Redis's own) for the listeners, in place of fastcache's JSON."""

    _prefix: bytes
    _on_keys: OnKeys
    channel: bytes
    received: int

    def _on_pushes(self, pushes: list[Any]) -> None:
        """RESP3 ``invalidate`` pushes (``[b"invalidate", keys or None]``), in order; emptied."""
        for push in pushes:
            data = push[1] if isinstance(push, list) and len(push) == 2 else push
            if self._deliver(data):
                self.received += 1
        pushes.clear()

    def _deliver(self, data: Any) -> bool:
        try:
            keys = tracked_keys(data, self._prefix)
        except ValueError as exc:
            log.warning("ignoring a message on %r: %s", self.channel, exc)
            return False
        if keys is not None and not keys:
            return False                    # only keys outside the namespace
        try:
            self._on_keys(keys, "tracking" if keys is not None else "flush", None)
        except Exception:                   # pragma: no cover - the callback is ours
            log.exception("invalidation callback failed")
        return True


class TrackingListener(_TrackingMessages, InvalidationListener):
    """:class:`InvalidationListener` fed by Redis client tracking: one connection per node
    (``clients``: the L2's), tracking ``prefix`` in BCAST mode and subscribed to
    ``__redis__:invalidate``; ``on_keys(keys, reason, None)`` for every change Redis
    reports (keys None: flush), ``on_reset()`` on every (re)connect and loss."""

    def __init__(self, clients: Sequence[Any], prefix: bytes, on_keys: OnKeys, on_reset: Callable[[], None],
                 **options: Any) -> None:
        self._prefix = prefix
        super().__init__([tracking_client(c, prefix) for c in clients], TRACKING_CHANNEL, "", on_keys,
                         on_reset, **options)

    def _run(self, index: int, client: Any) -> None:
        if not speaks_resp3(client):
            super()._run(index, client)         # RESP2: a subscription to __redis__:invalidate
            return
        while not self._stop.is_set():          # RESP3: push messages on the connection itself
            conn = None
            try:
                conn = client.connection_pool.get_connection()      # (tracking enabled on connect)
                pushes: list[Any] = []
                conn._parser.set_invalidation_push_handler(pushes.append)
                self._established(index)
                health = self._health_check()
                while not self._stop.is_set():
                    if conn.can_read(timeout=0.2):
                        conn.read_response(push_request=True)       # a push, or the PONG
                        health.heard_from(time.monotonic())
                        self._on_pushes(pushes)
                        continue
                    due = health.due(time.monotonic())
                    if due is Health.PING:
                        conn.send_command("PING")
                    elif due is Health.DEAD:
                        raise self._silent()
            except Exception as exc:
                self._stop.wait(self._on_failure(index, exc))
            finally:
                if conn is not None:
                    conn.disconnect()
                    client.connection_pool.release(conn)


class AsyncTrackingListener(_TrackingMessages, AsyncInvalidationListener):
    """:class:`TrackingListener` for ``redis.asyncio`` clients."""

    def __init__(self, clients: Sequence[Any], prefix: bytes, on_keys: OnKeys, on_reset: Callable[[], None],
                 **options: Any) -> None:
        self._prefix = prefix
        super().__init__([async_tracking_client(c, prefix) for c in clients], TRACKING_CHANNEL, "", on_keys,
                         on_reset, **options)

    async def _run(self, index: int, client: Any) -> None:
        if not speaks_resp3(client):
            await super()._run(index, client)   # RESP2: a subscription to __redis__:invalidate
            return
        while not self._closed:                 # RESP3: push messages on the connection itself
            conn = None
            try:
                conn = await client.connection_pool.get_connection()    # (tracking enabled on connect)
                pushes: list[Any] = []
                conn._parser.set_invalidation_push_handler(pushes.append)
                self._established(index)
                health = self._health_check()
                while not self._closed:
                    reply = await conn.read_response(timeout=0.2, disconnect_on_error=False, push_request=True)
                    if pushes or reply is not None:                     # a push, or the PONG
                        health.heard_from(time.monotonic())
                        self._on_pushes(pushes)
                        continue
                    due = health.due(time.monotonic())
                    if due is Health.PING:
                        await conn.send_command("PING")
                    elif due is Health.DEAD:
                        raise self._silent()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._closed:
                    return
                await asyncio.sleep(self._on_failure(index, exc))
            finally:
                if conn is not None:
                    try:
                        await asyncio.wait_for(conn.disconnect(), 1.0)
                    except (Exception, asyncio.CancelledError):
                        pass
                    await client.connection_pool.release(conn)


# -- a Redis Cluster: tracking on every master ----------------------------------------------
#
# A key's changes are reported by the master that holds it, so a cluster is tracked with one
# tracking connection per master (the cluster listeners in _async_cluster_listeners.py keep
# that set equal to the masters CLUSTER NODES reports).

_BAD_FLAGS = frozenset({"fail", "fail?", "handshake", "noaddr"})


def cluster_shards(text: Any) -> dict[tuple[str, int], list[tuple[int, int]]]:
    """``{(host, port): [(first slot, last slot), ...]}`` for every reachable master in a
    ``CLUSTER NODES`` reply, in the order given.  A master flagged failed (``fail``,
    ``fail?``), still in handshake or without an address is left out (its slots are, or will
    be, someone else's); one without slots is kept (it may be importing some); slots being
    imported or migrated (``[slot->-id]``) count for their owner only.  ValueError for a reply
    that is not one."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError("CLUSTER NODES reply is not UTF-8") from exc
    if not isinstance(text, str):
        raise ValueError(f"not a CLUSTER NODES reply: {type(text).__name__}")
    shards: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) < 8:
            raise ValueError(f"not a CLUSTER NODES line: {line[:80]!r}")
        flags = set(fields[2].split(","))
        if "master" not in flags or flags & _BAD_FLAGS:
            continue
        address = fields[1].split("@", 1)[0].split(",", 1)[0]
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit() or not host:
            continue                            # no address (yet)
        number = int(port)
        if not 0 < number < 65536:
            raise ValueError(f"bad port in {address!r}")
        ranges = []
        for field in fields[8:]:
            if field.startswith("["):
                continue                        # a slot on the move: its owner's line says so
            first, _, last = field.partition("-")
            if not first.isdigit() or not (last or first).isdigit():
                raise ValueError(f"bad slot range {field!r}")
            lo, hi = int(first), int(last or first)
            if not 0 <= lo <= hi < 16384:
                raise ValueError(f"bad slot range {field!r}")
            ranges.append((lo, hi))
        shards[(host, number)] = ranges
    return shards


def cluster_masters(text: Any) -> list[tuple[str, int]]:
    """The (host, port) of every reachable master in a ``CLUSTER NODES`` reply (see
    :func:`cluster_shards`)."""
    return list(cluster_shards(text))


# Sharded pub/sub (Redis >= 7.0 on a cluster): a namespace's invalidations go on 16 shard
# channels, one per range of 1,024 hash slots, each named with a hash tag that puts it in its
# own range - so a key's invalidation is published (SPUBLISH) on the master that holds the key
# (as the cluster's slots are usually laid out), and travels no further than that shard.
SHARD_BUCKETS = 16
_BUCKET_SLOTS = 16384 // SHARD_BUCKETS


def _bucket_tags() -> list[bytes]:
    from .._impl import key_slot
    tags: list[Optional[bytes]] = [None] * SHARD_BUCKETS
    n = 0
    while any(t is None for t in tags):
        tag = b"fc%d" % n
        bucket = key_slot(tag) // _BUCKET_SLOTS
        if tags[bucket] is None:
            tags[bucket] = tag
        n += 1
    return [t for t in tags if t is not None]


_BUCKET_TAGS: list[bytes] = []


def shard_channels(channel: bytes) -> list[bytes]:
    """The 16 shard channels of a namespace's invalidation channel, bucket by bucket."""
    if not _BUCKET_TAGS:
        _BUCKET_TAGS.extend(_bucket_tags())
    return [b"{" + tag + b"}" + channel for tag in _BUCKET_TAGS]


def shard_bucket(redis_key: bytes) -> int:
    """The shard channel (bucket) for an invalidation of ``redis_key``."""
    from .._impl import key_slot
    return int(key_slot(redis_key)) // _BUCKET_SLOTS


_NODE_OPTIONS = ("username", "password", "credential_provider", "socket_timeout", "socket_connect_timeout",
                 "socket_keepalive", "socket_keepalive_options", "retry_on_timeout", "client_name",
                 "encoder_class")


def node_client(node: Any, host: str, port: int, client_class: Any, pool_class: Any,
                timeout: Optional[float] = None) -> Any:
    """A plain ``client_class`` (``redis.Redis`` or ``redis.asyncio.Redis``, with its
    ``pool_class``) client to
    ``host:port`` with the connection class and options (credentials, timeouts, TLS) of a
    redis-py ``ClusterNode`` of the same cluster (sync or asyncio)."""
    pool = getattr(getattr(node, "redis_connection", None), "connection_pool", None)
    if pool is not None:                        # sync: each node has a redis.Redis
        connection_class, options = pool.connection_class, pool.connection_kwargs
    else:                                       # asyncio: the node keeps its connections itself
        connection_class, options = node.connection_class, node.connection_kwargs
    kwargs = {k: v for k, v in options.items() if k in _NODE_OPTIONS or k.startswith("ssl")}
    if timeout is not None:                     # bounded, whatever the cluster's own say
        for name in ("socket_timeout", "socket_connect_timeout"):
            if kwargs.get(name) is None:
                kwargs[name] = timeout
    return client_class(connection_pool=pool_class(connection_class=connection_class, host=host, port=port, **kwargs))
