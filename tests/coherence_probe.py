"""Two OS processes sharing a Redis L2: how fast does a write in one reach the other's L1?

``measure(url, n)`` starts a child process with its own ``TieredCache``,
lets it read ``n`` keys into its L1, then sets each key to a new value
from this process (one every ``gap`` seconds) and collects, from the
child, the CLOCK_MONOTONIC time at which each invalidation dropped its L1
copy, and what the child read right after.  CLOCK_MONOTONIC is
system-wide on Linux, so the two processes' times compare directly.
Used by tests/test_two_process.py and benchmarks/report.py.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

CHILD = r"""
import json, sys, threading, time
from fastcache import LRUCache, TieredCache
from fastcache.redis import RedisCache
url, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
events = []
done = threading.Event()
def on_invalidate(keys, reason):
    now = time.monotonic()
    for k in keys or ():
        events.append((k, now))
    if len(events) >= n:
        done.set()
tc = TieredCache(LRUCache(10_000), RedisCache(url, prefix=prefix), on_invalidate=on_invalidate)
assert tc.wait_ready(10)
for i in range(n):
    assert tc.get(f"k{i}") == 0, "initial value"
    assert tc.get_l1(f"k{i}") == 0
print("ready", flush=True)
done.wait(60)
stale = 0
for k, _ in events:
    if tc.get_l1(k) is not None or tc.get(k) != 1:
        stale += 1
print(json.dumps({"events": events, "stale": stale}), flush=True)
tc.close()
"""


def measure(url: str, n: int = 200, gap: float = 0.002, prefix: str = "coherence:") -> dict[str, Any]:
    """Latencies (seconds) from set() in this process to L1 drop in another."""
    from fastcache import LRUCache, TieredCache
    from fastcache.redis import RedisCache
    writer = TieredCache(LRUCache(10_000), RedisCache(url, prefix=prefix), invalidation=False)
    writer.l2.clear()
    writer.set_many({f"k{i}": 0 for i in range(n)}, ttl=300)
    writer.close()
    writer = TieredCache(LRUCache(10_000), RedisCache(url, prefix=prefix))
    assert writer.wait_ready(10)
    # The child imports fastcache as this process did (from the same directory).
    import fastcache
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(fastcache.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_parent,
                                                                    os.environ.get("PYTHONPATH", "")])))
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, prefix, str(n)], stdout=subprocess.PIPE,
                             text=True, env=env, cwd=tempfile.gettempdir())
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"child did not start: {line!r}")
        sent: dict[str, float] = {}
        for i in range(n):
            sent[f"k{i}"] = time.monotonic()
            writer.set(f"k{i}", 1)
            time.sleep(gap)
        out, _ = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
        writer.close()
    report = json.loads(out.strip().splitlines()[-1])
    latencies = sorted(t - sent[k] for k, t in report["events"] if k in sent)
    return {"latencies": latencies, "received": len(report["events"]), "stale": report["stale"], "sent": n}


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-quantile (0..1) of already sorted values, nearest rank."""
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, max(0, int(round(q * len(sorted_values) + 0.5)) - 1))]
