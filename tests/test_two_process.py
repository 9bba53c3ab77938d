"""Cross-process L1 coherence, with two real OS processes (see coherence_probe.py)."""
from __future__ import annotations

from coherence_probe import measure, percentile


def test_a_write_in_one_process_invalidates_the_other_processes_l1(redis_url):
    result = measure(redis_url, n=100)
    assert result["received"] == 100           # every invalidation arrived
    assert result["stale"] == 0                # and after it the child reads the new value
    assert all(lat > 0 for lat in result["latencies"])
    print(f"\ninvalidation latency over {len(result['latencies'])} writes: "
          f"p50 {percentile(result['latencies'], 0.5) * 1e3:.2f} ms, "
          f"p99 {percentile(result['latencies'], 0.99) * 1e3:.2f} ms")
