"""Trace readers and the simulator, checked against the shared traces' published counts
and the reference hit-ratio table (LRU, FIFO, LFU, ARC and Belady to 0.01 points)."""
from __future__ import annotations

import gzip
import lzma
import os
import pathlib
import re
import struct

import pytest

from fastcache.simulate import POLICIES, simulate
from fastcache.traces import guess_format, read_trace

# A subset of the shared trace set is kept in tests/data/traces (small files, with the
# reference table and the cache2k licence), so the suite needs nothing outside the
# repository; FASTCACHE_TRACES points the tests at the full set instead.
TRACES = pathlib.Path(os.environ.get("FASTCACHE_TRACES") or pathlib.Path(__file__).resolve().parent / "data" / "traces")
# The vendored Corda trace is the .keys.gz conversion (keys renumbered in order of first
# appearance: a bijection, so every policy here gets exactly the same hits).
CORDA = "corda-vaultservice.keys.gz" if (TRACES / "corda-vaultservice.keys.gz").exists() else "corda-vaultservice.trace.gz"


def reference_table() -> dict[str, dict[int, dict[str, float]]]:
    table: dict[str, dict[int, dict[str, float]]] = {}
    current = None
    columns: list[str] = []
    for line in (TRACES / "reference-hit-ratios.txt").read_text().splitlines():
        head = re.match(r"^(\S+)\s+requests=", line)
        if head:
            current = head.group(1)
            table[current] = {}
        elif line.strip().startswith("capacity"):
            columns = line.split()[1:]
        elif current and re.match(r"^\s+\d+\*?\s", line):
            cells = line.split()
            table[current][int(cells[0].rstrip("*"))] = dict(zip(columns, map(float, cells[1:])))
    return table


def test_formats_from_bytes(tmp_path):
    (tmp_path / "a.keys").write_text("1\n*\n\n2\r\n3\n")
    assert list(read_trace(tmp_path / "a.keys")) == [1, 2, 3]
    with gzip.open(tmp_path / "b.lis.gz", "wt") as f:
        f.write("10 3 0 1\n20 1 0 2\n")
    assert list(read_trace(tmp_path / "b.lis.gz")) == [10, 11, 12, 20]
    with lzma.open(tmp_path / "cache2k-x.trace.xz", "wb") as f:
        f.write(struct.pack(">iii", 5, -1, 7))
    assert list(read_trace(tmp_path / "cache2k-x.trace.xz")) == [5, -1, 7]
    (tmp_path / "cloudphysics-y.trace").write_bytes(struct.pack(">II", 4_000_000_000, 1))
    assert list(read_trace(tmp_path / "cloudphysics-y.trace")) == [4_000_000_000, 1]
    (tmp_path / "corda-z.trace").write_bytes(struct.pack(">q", -(2 ** 40)))
    assert list(read_trace(tmp_path / "corda-z.trace")) == [-(2 ** 40)]
    (tmp_path / "address-w.trace").write_text("l 0x1f 3\ns 0x20 1\n")
    assert list(read_trace(tmp_path / "address-w.trace")) == [0x1F, 0x20]
    assert guess_format("scarab-recs.keys.gz") == "keys" and guess_format("arc-P3.lis.xz") == "arc"
    (tmp_path / "bad.keys").write_text("1\nx\n")
    with pytest.raises(ValueError, match="line 2"):
        list(read_trace(tmp_path / "bad.keys"))
    (tmp_path / "corda-short.trace").write_bytes(b"\x00" * 12)
    with pytest.raises(ValueError, match="trailing 4 bytes"):
        list(read_trace(tmp_path / "corda-short.trace"))
    with pytest.raises(ValueError, match="unknown trace format"):
        list(read_trace(tmp_path / "a.keys", format="csv"))


@pytest.mark.parametrize("name, requests, unique", [
    ("lirs-cpp.trace.gz", 9047, 1223), ("lirs-loop.trace.gz", 505500, 1011),
    ("cache2k-web12.trace.xz", 95607, 13756), (CORDA, 135702, 90468),
])
def test_every_format_reads_the_published_counts(name, requests, unique):
    keys = list(read_trace(TRACES / name))
    assert (len(keys), len(set(keys))) == (requests, unique)


@pytest.mark.parametrize("name", ["lirs-cpp.trace.gz", "lirs-cs.trace.gz", "lirs-multi2.trace.gz",
                                  "cache2k-web12.trace.xz", CORDA])
def test_reference_policies_reproduce_the_reference_table(name):
    ref = reference_table()[name.replace(".keys.gz", ".trace.gz")]
    result = simulate(TRACES / name, ["lru", "fifo", "lfu", "arc", "opt"], sorted(ref))
    for cap, row in ref.items():
        for policy in ("lru", "fifo", "lfu", "arc", "opt"):
            assert round(100 * result.hit_ratio(policy, cap), 2) == pytest.approx(row[policy], abs=0.011), \
                (name, cap, policy)


def test_simulate_arguments_and_keys_iterables():
    r = simulate([1, 2, 3, 1, 2, 3], ["lru", "opt"], [2])
    assert r.requests == 6 and r.unique == 3
    assert r.hit_ratio("lru", 2) == 0 and r.hit_ratio("opt", 2) == pytest.approx(2 / 6)
    assert "capacity" in r.table()
    with pytest.raises(ValueError, match="unknown policies"):
        simulate([1], ["belady"], [1])
    with pytest.raises(ValueError, match="positive ints"):
        simulate([1], ["lru"], [0])
    with pytest.raises(ValueError, match="empty"):
        simulate([], ["lru"], [1])
    assert set(POLICIES) >= {"lru", "lfu", "fifo", "arc", "s3fifo", "opt"}


def test_adaptive_policy_on_the_small_traces():
    """W-TinyLFU with an adaptive window against the reference table on the small traces:
    above ARC and S3-FIFO on average, close to LRU where recency is all there is, and
    keeping most of what Belady keeps on the loop."""
    ref = reference_table()
    cells = [("lirs-cpp.trace.gz", [50, 80, 100]), ("lirs-cs.trace.gz", [1000, 1350]),
             ("lirs-multi2.trace.gz", [200, 600, 1800]), ("lirs-ps.trace.gz", [200, 600]),
             (CORDA, [20, 50, 100]), ("cache2k-web12.trace.xz", [50, 500, 2500])]
    ours, arc, s3 = [], [], []
    for name, caps in cells:
        result = simulate(TRACES / name, ["adaptive"], caps)
        for c in caps:
            got = 100 * result.hit_ratio("adaptive", c)
            row = ref[name.replace(".keys.gz", ".trace.gz")][c]
            ours.append(got)
            arc.append(row["arc"])
            s3.append(row["s3fifo"])
            assert got > row["lru"] - 2, (name, c, got, row["lru"])
    mean = sum(ours) / len(ours)
    assert mean > sum(arc) / len(arc) + 1 and mean > sum(s3) / len(s3) + 1
    loop = simulate(TRACES / "lirs-loop.trace.gz", ["adaptive"], [1000]).hit_ratio("adaptive", 1000)
    assert loop > 0.85 * ref["lirs-loop.trace.gz"][1000]["opt"] / 100        # 89.5 % vs 98.7 % measured


def run_cli(*args):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "fastcache", *args], capture_output=True, text=True, timeout=120)


def test_cli_replays_the_shipped_trace_with_no_argument():
    done = run_cli("simulate")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("lirs-cpp.trace.gz: 9047 requests, 1223 distinct keys")
    assert lines[1].split() == ["capacity", "lru", "lfu", "fifo", "adaptive"]
    row50 = lines[2].split()
    assert row50[0] == "50" and row50[1] == "9.26" and row50[2] == "44.30"     # the reference table's LRU and LFU


def test_cli_arguments_errors_and_plot(tmp_path):
    import importlib.util
    (tmp_path / "t.keys").write_text("\n".join(str(i % 7) for i in range(100)))
    done = run_cli("simulate", str(tmp_path / "t.keys"), "-c", "3", "10", "-p", "lru", "opt")
    assert done.returncode == 0 and "opt" in done.stdout.splitlines()[1]
    assert done.stdout.splitlines()[3].split() == ["10", "93.00", "93.00"]
    bad = run_cli("simulate", str(tmp_path / "missing.keys"))
    assert bad.returncode == 2 and "no such trace file" in bad.stderr
    bad = run_cli("simulate", "-p", "belady")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    png = tmp_path / "out.png"
    done = run_cli("simulate", "-c", "50", "100", "--plot", str(png))
    if importlib.util.find_spec("matplotlib") is not None:
        assert done.returncode == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert done.returncode != 0 and "pip install 'fastcache[plot]'" in done.stderr


def test_cli_bench_prints_the_speed_table():
    done = run_cli("bench", "--quick", "--group", "decorator-hit")
    assert done.returncode == 0, done.stderr
    rows = {line.split("|")[1].strip(): line for line in done.stdout.splitlines() if line.startswith("| ")}
    assert "fastcache.lru_cache" in rows and "1.00×" in rows["functools.lru_cache"]
    assert "**decorator hit" in done.stdout and "hit-int" not in done.stdout
    bad = run_cli("bench", "--group", "nope")
    assert bad.returncode == 2 and "unknown groups" in bad.stderr
