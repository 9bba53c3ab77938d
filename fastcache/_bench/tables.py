"""Tables of the speed comparison (Markdown), shared by ``benchmarks/report.py`` and ``fastcache bench``."""
from __future__ import annotations

__all__ = ("BASELINE", "TITLES", "render", "versions")

BASELINE = {"hit-int": "dict", "hit-str": "dict", "hit-int-1k": "dict", "miss-insert-evict": "functools.lru_cache",
            "zipf-cache-aside": "functools.lru_cache", "ttl-set-get": "cachetools.TTLCache",
            "decorator-hit": "functools.lru_cache", "tiered-l1-hit": "fastcache.LRUCache.get",
            "ring-distinct-keys": "uhashring (ketama)", "ring-hot-keys": "uhashring (ketama)",
            "write-behind-set": "fastcache.LRUCache[k] = v", "cached-hit-overhead": "bare LRUCache[k] hit"}
TITLES = {
    "hit-int": "get hit `c[k]`, 100k int keys (random order)",
    "hit-str": "get hit `c[k]`, 100k str keys (random order)",
    "hit-int-1k": "get hit `c[k]`, 1000 int keys (random order): everything in CPU cache",
    "miss-insert-evict": "miss + insert + evict, capacity 10k (a new key every time)",
    "zipf-cache-aside": "Zipf(0.99) cache-aside over 1M keys, capacity 10k (`get`, set on miss)",
    "ttl-set-get": "TTL set + get, capacity 10k, ttl 300 s, 20k keys",
    "decorator-hit": "decorator hit, 1000 hot int arguments",
    "tiered-l1-hit": "TieredCache L1 hit `tc.get(k)` vs a bare `LRUCache.get(k)`, 100k str keys (random order)",
    "ring-distinct-keys": "HashRing.get_node, 10 nodes × 160 points, 100k distinct str keys (each once)",
    "ring-hot-keys": "HashRing.get_node, 10 nodes × 160 points, 1000 hot str keys repeated",
    "cached-hit-overhead": "the cost of memoizing: a hit through @cached and CacheAside vs a bare `cache[k]` hit, 1000 hot int keys",
    "write-behind-set": "WriteBehind.set vs a plain cache set, Zipf(0.99) keys, capacity 10k (incl. the final flush)",
}


def render(speed: dict[str, dict[str, float]], memory: dict[str, tuple[float, float]],
           ratios: dict[str, float]) -> str:
    lines = []
    for group in TITLES:
        rows = speed.get(group)
        if not rows:
            continue
        base = BASELINE[group]
        ours = min((v for k, v in rows.items() if k.startswith("fastcache")), default=None)
        lines.append("**%s**\n" % TITLES[group])
        extra = " Zipf hit ratio |" if group == "zipf-cache-aside" else ""
        lines.append("| implementation | ns/op (median) | vs %s |%s" % (base, extra))
        lines.append("|---|---:|---:|" + ("---:|" if extra else ""))
        for name, ns in sorted(rows.items(), key=lambda kv: kv[1]):
            cells = "| %s | %.1f | %.2f× |" % (name, ns, ns / rows[base]) if base in rows else \
                "| %s | %.1f | – |" % (name, ns)
            if extra:
                cells += " %.2f%% |" % (100 * ratios[name]) if name in ratios else " – |"
            lines.append(cells)
        del ours
        lines.append("")
    if memory:
        lines.append("**bytes per entry, 100k int entries** (RSS growth in a fresh process; "
                     "tracemalloc counts only memory allocated through Python)\n")
        lines.append("| implementation | RSS B/entry | tracemalloc B/entry |")
        lines.append("|---|---:|---:|")
        for name, (rss, traced) in sorted(memory.items(), key=lambda kv: kv[1][0]):
            lines.append("| %s | %.1f | %.1f |" % (name, rss, traced))
        lines.append("")
    return "\n".join(lines)


def versions() -> str:
    import platform
    from importlib import metadata

    import fastcache
    parts = ["Python %s" % platform.python_version(), "fastcache %s (compiled: %s)" % (
        fastcache.__version__, fastcache.USING_EXTENSIONS)]
    for dist in ("cachetools", "lru-dict", "cachebox", "theine", "moka-py", "uhashring", "redis"):
        try:
            parts.append("%s %s" % (dist, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(parts)
