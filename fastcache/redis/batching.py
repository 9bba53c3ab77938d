"""Automatic batching of Redis reads: concurrent ``get`` calls share one ``MGET``.

Python's Redis clients send one command per call, and on a loaded service the
per-command cost (building the request, a system call each way, parsing the
reply, waking the caller) is what limits throughput, not the network.  The
model is rueidis' and ioredis' auto-pipelining; here reads are merged into one
``MGET`` (one per hash slot on a cluster), whose per-key cost is a few percent
of a ``GET``'s.

Two policies, one per concurrency model, both with no added latency for a
caller that is alone (it is sent at once, as a plain ``GET``):

- :class:`AsyncReadBatcher` (asyncio, on by default): a ``get`` that finds no batch
  open is sent at once and opens one; every ``get`` issued in the same event-loop
  iteration (or while that lone read is still out) joins it, and the batch goes out
  as one ``MGET`` at the start of the next iteration; several commands may be in
  flight at once.  Nothing is scheduled for a read that stays alone.
- :class:`ReadBatcher` (threads, opt-in with ``auto_batch=True``): a caller that
  finds no command of this cache in flight is sent at once; callers arriving
  while one is in flight join the next batch, which its first caller sends as
  soon as the one in flight has returned.

Each caller gets its own value.  A failed batch raises its error in exactly
the callers of that batch (on a cluster, of that hash slot's group); a
cancelled caller leaves the batch to the others.  The command itself is the
cache's business: a batcher is given ``fetch(raw_keys) -> replies`` (one reply,
or exception, per key).
"""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable, Callable, Optional

__all__ = ("AsyncReadBatcher", "ReadBatcher", "BatchStats")


class BatchStats:
    """What a batcher did: commands sent, keys read, batches (commands of more than
    one key, or of a key asked by several callers)."""

    __slots__ = ("commands", "keys", "batches", "joined")

    def __init__(self) -> None:
        self.commands = 0
        self.keys = 0
        self.batches = 0
        self.joined = 0

    def __repr__(self) -> str:
        return (f"BatchStats(commands={self.commands}, keys={self.keys}, batches={self.batches}, "
                f"joined={self.joined})")


def _deliver(waiters: dict[bytes, list["asyncio.Future[Any]"]], keys: list[bytes], replies: list[Any]) -> None:
    """Hand each waiting caller its key's reply."""
    for rkey, reply in zip(keys, replies):
        for fut in waiters[rkey]:
            if not fut.done():              # else its caller was cancelled
                fut.set_result(reply)


def _fail(waiters: dict[bytes, list["asyncio.Future[Any]"]], exc: BaseException) -> None:
    """Raise the command's error in every waiting caller."""
    for futs in waiters.values():
        for fut in futs:
            if not fut.done():
                fut.set_exception(exc)


class AsyncReadBatcher:
    """Merge the reads issued in one event-loop iteration (see the module docstring)."""

    __slots__ = ("_fetch", "_open", "_loop", "stats", "_tasks")

    def __init__(self, fetch: Callable[[list[bytes]], Awaitable[list[Any]]]) -> None:
        self._fetch = fetch
        self._open: Optional[dict[bytes, list[asyncio.Future[Any]]]] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = BatchStats()

    def get(self, rkey: bytes) -> Awaitable[Any]:
        """An awaitable of rkey's reply: what ``fetch`` gave for it (bytes, None, or the error
        of that key's command); it raises the error of a command that failed as a whole.
        (Not a coroutine: a joining caller awaits its future directly, one frame less.)"""
        loop = asyncio.get_running_loop()
        waiting = self._open
        if waiting is None or self._loop is not loop:
            # Nothing open: this read is sent now, and opens a batch for the reads that
            # come while it is out.  Nothing is scheduled for it: a read that stays alone
            # costs no extra loop iteration (the first read to join schedules the send).
            waiting = self._open = {}
            self._loop = loop
            self.stats.commands += 1
            self.stats.keys += 1
            return self._one(rkey, waiting)
        fut = loop.create_future()
        if not waiting:
            loop.call_soon(self._close)         # the first to join: the batch goes next iteration
        queue = waiting.get(rkey)
        if queue is None:
            waiting[rkey] = [fut]
        else:
            queue.append(fut)
            self.stats.joined += 1
        return fut

    async def _one(self, rkey: bytes, opened: dict[bytes, list[asyncio.Future[Any]]]) -> Any:
        try:
            return (await self._fetch([rkey]))[0]
        finally:
            if self._open is opened and not opened:     # nobody joined while it was out
                self._open = None

    def _close(self) -> None:
        """At the next iteration: send what joined (if anything) as one command."""
        waiting, self._open = self._open, None
        if not waiting:
            return
        task = asyncio.get_running_loop().create_task(self._send(waiting))
        self._tasks.add(task)                   # referenced until it ends
        task.add_done_callback(self._tasks.discard)

    async def _send(self, waiting: dict[bytes, list[asyncio.Future[Any]]]) -> None:
        keys = list(waiting)
        stats = self.stats
        stats.commands += 1
        stats.keys += len(keys)
        stats.batches += 1
        try:
            replies = await self._fetch(keys)
        except asyncio.CancelledError:      # the loop is closing: the callers are cancelled with it
            for futs in waiting.values():
                for fut in futs:
                    fut.cancel()
            raise
        except BaseException as exc:        # one error for all: each caller gets it
            _fail(waiting, exc)
            return
        _deliver(waiting, keys, replies)


class _Batch:
    """Keys waiting for the next command of a :class:`ReadBatcher`."""

    __slots__ = ("keys", "replies", "error", "go", "done")

    def __init__(self) -> None:
        self.keys: dict[bytes, int] = {}        # key -> its position in the command
        self.replies: list[Any] = []
        self.error: Optional[BaseException] = None
        self.go = threading.Event()             # the command before it has returned
        self.done = threading.Event()           # replies are in

    def reply(self, rkey: bytes) -> Any:
        if self.error is not None:
            raise self.error
        return self.replies[self.keys[rkey]]


class ReadBatcher:
    """Merge the reads of threads that overlap (see the module docstring)."""

    __slots__ = ("_fetch", "_lock", "_busy", "_next", "stats")

    def __init__(self, fetch: Callable[[list[bytes]], list[Any]]) -> None:
        self._fetch = fetch
        self._lock = threading.Lock()
        self._busy = False                      # a command of this batcher is in flight
        self._next: Optional[_Batch] = None     # the batch collecting callers meanwhile
        self.stats = BatchStats()

    def get(self, rkey: bytes) -> Any:
        """rkey's reply: what ``fetch`` gave for it (bytes, None, or the error of that
        key's command); raises the error of a command that failed as a whole."""
        with self._lock:
            if not self._busy:
                self._busy = True
                batch = None
            else:
                batch = self._next
                leader = batch is None
                if batch is None:
                    batch = self._next = _Batch()
                if rkey in batch.keys:
                    self.stats.joined += 1
                else:
                    batch.keys[rkey] = len(batch.keys)
        if batch is None:
            self.stats.commands += 1
            self.stats.keys += 1
            try:
                return self._fetch([rkey])[0]
            finally:
                self._hand_over()
        if leader:
            batch.go.wait()                     # the command in flight has returned
            self._run(batch)
        else:
            batch.done.wait()
        return batch.reply(rkey)

    def _run(self, batch: _Batch) -> None:
        keys = list(batch.keys)
        self.stats.commands += 1
        self.stats.keys += len(keys)
        self.stats.batches += 1
        try:
            batch.replies = self._fetch(keys)
        except BaseException as exc:
            batch.error = exc
        finally:
            batch.done.set()
            self._hand_over()

    def _hand_over(self) -> None:
        """The command in flight has returned: the batch that gathered meanwhile goes next
        (it stops taking callers now), or the batcher is idle."""
        with self._lock:
            batch, self._next = self._next, None
            if batch is None:
                self._busy = False
                return
        batch.go.set()
