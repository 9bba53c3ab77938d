"""Write-behind: the cache is updated at once, the store catches up in batches.

``set`` stores the value in the cache and queues the write; a background
flusher (a thread for :class:`WriteBehind`, a task for
:class:`AsyncWriteBehind`) hands ``write_batch({key: value, ...})`` batches of
up to ``max_batch`` items, as soon as a batch is full or the oldest queued
write is ``max_delay`` seconds old.  Writes to a key still queued coalesce:
only the last value is written, and the key keeps its place in the queue.

Nothing is dropped silently: a failing ``write_batch`` is retried with
exponential back-off while the batch stays queued (later values of the
same keys are queued behind it, so the store ends with the newest).  After
``max_attempts`` failures the batch goes to ``dead_letter(batch, exc)`` if
one is given; without one it is retried for as long as it takes.  A full
queue (``max_pending`` distinct keys) blocks ``set`` (``on_full="block"``,
optionally up to ``block_timeout``) or raises :class:`WriteBehindFull`
(``on_full="raise"``).  ``flush()`` waits until everything queued so far is
written; ``close()`` drains and stops; so does interpreter exit (sync).

With ``journal=`` (a :class:`~fastcache.patterns.journal.RedisStreamJournal`)
every write is appended to a Redis Stream before ``set`` returns and
acknowledged after the store took it, so a process killed with SIGKILL
loses nothing: the next writer on that journal replays the backlog first.

The cache is updated under the queue's lock, so the cache and the store
end with the same last value for every key even when threads race.

Where the code lives: :mod:`._write_behind_base` (the queue, its counters and
the two flushers), :mod:`._async_write_behind` (the one source of the
methods) and :mod:`._sync_write_behind` (generated from it by
``scripts/unasync.py``).  This module adds what only the sync queue has: it
starts at once and drains at interpreter exit (``exit_timeout``).
"""
from __future__ import annotations

from typing import Any, Callable

from ._async_write_behind import AsyncWriteBehind
from ._sync_write_behind import WriteBehind as _GeneratedWriteBehind
from ._write_behind_base import WriteBehindFull, WriteBehindStats

__all__ = ("WriteBehind", "AsyncWriteBehind", "WriteBehindFull", "WriteBehindStats")


class WriteBehind(_GeneratedWriteBehind):
    """Cache now, store later, in batches, from a background thread; see the module docstring.

    Takes :class:`AsyncWriteBehind`'s options (``max_batch``, ``max_delay``,
    ``max_pending``, ``on_full``, ``block_timeout``, ``max_attempts``,
    ``retry_delay``, ``max_retry_delay``, ``dead_letter``, ``journal``: a
    ``RedisStreamJournal``), and ``exit_timeout``: how long interpreter exit
    waits for the queue to drain.
    """

    def __init__(self, cache: Any, write_batch: Callable[[dict[Any, Any]], Any], *,
                 exit_timeout: float = 30.0, **options: Any) -> None:
        if isinstance(exit_timeout, bool) or not isinstance(exit_timeout, (int, float)) or exit_timeout < 0:
            raise ValueError(f"exit_timeout must be a non-negative number of seconds, got {exit_timeout!r}")
        super().__init__(cache, write_batch, **options)
        self.exit_timeout = float(exit_timeout)
        self.start()                          # the flusher thread runs from the start
