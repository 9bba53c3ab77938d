"""The examples run as they are: with a Redis L2 when one answers, L1 only otherwise."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def run(name: str, url: str) -> str:
    env = dict(os.environ, FASTCACHE_REDIS_URL=url)
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("done")
    return done.stdout


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis-l2", "l1-only"])
def test_users_walkthrough(redis_url, with_redis):
    out = run("users_walkthrough.py", redis_url if with_redis else "redis://127.0.0.1:1/0")
    assert ("Redis L2 at" in out) == with_redis and ("L1 only" in out) != with_redis
    assert "500 reads of 10 users -> 10 database queries" in out
    assert "20 concurrent misses of user:42 -> 1 database query" in out
    assert "database has 'grace', cache has 'grace'" in out
    assert "after the committed update user:3 is cached: False" in out


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis-l2", "l1-only"])
def test_async_users(redis_url, with_redis):
    out = run("async_users.py", redis_url if with_redis else "redis://127.0.0.1:1/0")
    assert ("Redis L2 at" in out) == with_redis
    assert "100 concurrent tasks read user:7 (user7) -> 1 query" in out
