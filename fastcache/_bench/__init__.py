"""The benchmark workloads, shared by ``benchmarks/`` (pytest-benchmark) and ``fastcache bench``."""
