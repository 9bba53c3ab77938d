"""Cache statistics for Prometheus and OpenTelemetry, read when they are collected.

Name a cache, then export every named cache::

    import fastcache.metrics as metrics
    metrics.register(users_cache, name="users")     # any fastcache cache, tier or pattern
    metrics.PrometheusCollector()                   # on prometheus_client.REGISTRY
    metrics.instrument(meter)                       # OpenTelemetry observable instruments

Nothing is counted on the hit path: the collector and the instruments' callbacks call
each cache's ``stats()`` when Prometheus scrapes, or when the OpenTelemetry reader
collects.  Every sample carries the labels ``cache`` (the registered name) and ``tier``
(``l1`` in process, ``l2`` Redis); a few add one more (``cause``, ``result``, ``state``).

Prometheus names are ``fastcache_<name>`` (counters end in ``_total`` in the exposition,
as ``prometheus_client`` writes them); OpenTelemetry names are ``fastcache.<name>``
(dots, no ``_total``, as its conventions ask).  :data:`METRICS` lists them all.
"""
from __future__ import annotations

import enum
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Optional

__all__ = ("register", "unregister", "registered", "samples", "collect", "PrometheusCollector", "instrument",
           "METRICS", "Metric", "Kind", "Sample")


class Kind(enum.Enum):
    """Prometheus and OpenTelemetry instrument kinds."""

    COUNTER = "counter"         # only goes up (since the cache was made)
    GAUGE = "gauge"             # a current value


@dataclass(frozen=True)
class Metric:
    """One metric family: its name (without prefix or suffix), kind, help text and extra labels."""

    name: str
    kind: Kind
    help: str
    unit: str = "1"
    labels: tuple[str, ...] = ()


def _m(name: str, kind: Kind, help: str, unit: str = "1", labels: tuple[str, ...] = ()) -> tuple[str, Metric]:
    return name, Metric(name, kind, help, unit, labels)


C, G = Kind.COUNTER, Kind.GAUGE
#: Every metric, by name (the labels cache and tier are on all of them).
METRICS: dict[str, Metric] = dict((
    _m("hits", C, "Lookups answered by the tier", "{hit}"),
    _m("misses", C, "Lookups the tier could not answer", "{miss}"),
    _m("evictions", C, "Items removed to make room (cause=size) or because they expired (cause=expired)",
       "{item}", ("cause",)),
    _m("items", G, "Items held now", "{item}"),
    _m("weight", G, "The sum of the items' sizes now (their count unless getsizeof is set)"),
    _m("max_weight", G, "The maximum weight (maxsize); absent when unbounded"),
    _m("loads", C, "Loader calls", "{call}"),
    _m("load_errors", C, "Loader calls that raised", "{call}"),
    _m("errors", C, "Calls to the tier that failed or timed out", "{call}"),
    _m("skipped", C, "Calls not made because the circuit breaker was open", "{call}"),
    _m("breaker_state", G, "1 for the circuit breaker's current state (closed, open, half-open)", "1", ("state",)),
    _m("invalidations_sent", C, "Invalidation messages published to other processes", "{message}"),
    _m("invalidations_received", C, "Invalidation messages received from other processes", "{message}"),
    _m("invalidations_owed", G, "Keys other processes have yet to be told of (1: a flush)", "{key}"),
    _m("flushes", C, "Times the whole L1 was dropped (a lost or silent subscription, a flush message)",
       "{flush}"),
    _m("stale_served", C, "Stale values served (stale-while-revalidate, stale-if-error)", "{response}"),
    _m("refreshes", C, "Background reloads started", "{call}"),
    _m("write_behind_pending", G, "Writes queued for the store", "{item}"),
    _m("write_behind_written", C, "Items the store accepted", "{item}"),
    _m("write_behind_retries", C, "Failed store calls (retried, or dead-lettered)", "{call}"),
    _m("write_behind_dead_lettered", C, "Items handed to the dead-letter hook", "{item}"),
    _m("write_behind_coalesced", C, "Writes that replaced a value still queued", "{item}"),
    _m("http_responses", C, "Responses by how the cache answered (result=hit, stale, miss)", "{response}",
       ("result",)),
    _m("http_stored", C, "Responses stored", "{response}"),
))
del C, G

Sample = tuple[str, dict[str, str], float]      # (metric name, labels, value)

_lock = threading.Lock()
_caches: dict[str, Callable[[], Any]] = {}


def register(cache: Any, name: str) -> Any:
    """Export ``cache``'s statistics under ``name`` (replacing a cache registered under it
    before); the cache itself, so ``c = register(LRUCache(100), name="users")`` works.  The
    registry holds caches weakly where it can: a cache that is gone stops being exported."""
    if not isinstance(name, str) or not name:
        raise ValueError("a cache needs a non-empty str name")
    if getattr(cache, "stats", None) is None:
        raise TypeError(f"{type(cache).__name__} has no stats(): not a fastcache cache")
    try:
        ref: Callable[[], Any] = weakref.ref(cache)
    except TypeError:
        ref = lambda: cache  # noqa: E731 - an object that cannot be weakly referenced
    with _lock:
        _caches[name] = ref
    return cache


def unregister(name: str) -> None:
    """Stop exporting the cache registered under ``name`` (KeyError if none is)."""
    with _lock:
        del _caches[name]


def registered() -> dict[str, Any]:
    """``{name: cache}`` for every registered cache still alive."""
    with _lock:
        refs = list(_caches.items())
    out = {}
    for name, ref in refs:
        cache = ref()
        if cache is not None:
            out[name] = cache
    return out


def _read_stats(cache: Any) -> Any:
    """A cache's statistics: ``stats()``, or the HTTP middlewares' ``stats`` property."""
    stats = cache.stats
    return stats() if callable(stats) else stats


def _tier_of(cache: Any) -> str:
    return "l2" if type(cache).__module__.startswith("fastcache.redis") else "l1"


def _l1_samples(stats: Any, cache: Any, tier: str) -> Iterator[Sample]:
    yield "hits", {"tier": tier}, stats.hits
    yield "misses", {"tier": tier}, stats.misses
    yield "evictions", {"tier": tier, "cause": "size"}, stats.evictions
    yield "evictions", {"tier": tier, "cause": "expired"}, stats.expirations
    try:
        yield "items", {"tier": tier}, len(cache)
    except TypeError:
        pass
    yield "weight", {"tier": tier}, stats.currsize
    maxsize = stats.maxsize
    if isinstance(maxsize, (int, float)) and maxsize < float("inf"):
        yield "max_weight", {"tier": tier}, maxsize


def samples(name: str, cache: Any) -> Iterator[Sample]:
    """The samples of one cache (labels without ``cache``; :func:`collect` adds it).

    Reads ``stats()`` (and ``len()`` for in-process caches) and nothing else."""
    from ._tiered_logic import TieredStats
    from ._types import CacheStats
    from .http.core import HTTPCacheStats
    from .patterns._cache_aside_core import CacheAsideStats
    from .patterns._write_behind_base import WriteBehindStats

    stats = _read_stats(cache)
    if isinstance(stats, CacheStats):
        yield from _l1_samples(stats, cache, _tier_of(cache))
    elif isinstance(stats, TieredStats):
        l1 = getattr(cache, "l1", None)
        l1_stats = _read_stats(l1) if getattr(l1, "stats", None) is not None else None
        if isinstance(l1_stats, CacheStats):
            yield from _l1_samples(l1_stats, l1, "l1")
        else:
            yield "hits", {"tier": "l1"}, stats.l1_hits
        yield "hits", {"tier": "l2"}, stats.l2_hits
        yield "misses", {"tier": "l2"}, stats.l2_misses
        yield "errors", {"tier": "l2"}, stats.l2_errors
        yield "skipped", {"tier": "l2"}, stats.l2_skipped
        yield "loads", {"tier": "l2"}, stats.loads
        yield "load_errors", {"tier": "l2"}, stats.load_errors
        for state in ("closed", "open", "half-open"):
            yield "breaker_state", {"tier": "l2", "state": state}, float(stats.breaker == state)
        yield "invalidations_sent", {"tier": "l1"}, stats.invalidations_sent
        yield "invalidations_received", {"tier": "l1"}, stats.invalidations_received
        yield "invalidations_owed", {"tier": "l1"}, stats.invalidations_owed
        yield "flushes", {"tier": "l1"}, stats.l1_flushes
    elif isinstance(stats, CacheAsideStats):
        tier = _tier_of(getattr(cache, "cache", None))
        yield "hits", {"tier": tier}, stats.hits
        yield "misses", {"tier": tier}, stats.misses
        yield "loads", {"tier": tier}, stats.loads
        yield "load_errors", {"tier": tier}, stats.load_errors
        yield "stale_served", {"tier": tier}, stats.stale_served
        yield "refreshes", {"tier": tier}, stats.refreshes
    elif isinstance(stats, WriteBehindStats):
        tier = _tier_of(getattr(cache, "cache", None))
        yield "write_behind_pending", {"tier": tier}, stats.pending
        yield "write_behind_written", {"tier": tier}, stats.written
        yield "write_behind_retries", {"tier": tier}, stats.failures
        yield "write_behind_dead_lettered", {"tier": tier}, stats.dead_lettered
        yield "write_behind_coalesced", {"tier": tier}, stats.coalesced
    elif isinstance(stats, HTTPCacheStats):
        tier = _tier_of(getattr(getattr(cache, "core", None), "cache", None))
        yield "http_responses", {"tier": tier, "result": "hit"}, stats.hits
        yield "http_responses", {"tier": tier, "result": "stale"}, stats.stale
        yield "http_responses", {"tier": tier, "result": "miss"}, stats.misses
        yield "http_stored", {"tier": tier}, stats.stored
    else:
        raise TypeError(f"no metrics for {type(cache).__name__}'s stats ({type(stats).__name__})")


def collect(caches: Optional[dict[str, Any]] = None) -> list[tuple[Metric, list[tuple[dict[str, str], float]]]]:
    """Every metric with its samples ``(labels, value)`` across ``caches`` (default: the
    registered ones), in :data:`METRICS` order; metrics without samples are left out."""
    by_metric: dict[str, list[tuple[dict[str, str], float]]] = {}
    for name, cache in (registered() if caches is None else caches).items():
        for metric, labels, value in samples(name, cache):
            by_metric.setdefault(metric, []).append(({"cache": name, **labels}, float(value)))
    return [(METRICS[m], by_metric[m]) for m in METRICS if m in by_metric]


class PrometheusCollector:
    """A ``prometheus_client`` collector of the registered caches' statistics, read at
    scrape time.  Registered on ``prometheus_client.REGISTRY`` unless another ``registry``
    is given (``registry=None``: not registered; call :meth:`collect` yourself)."""

    _DEFAULT: Any = object()

    def __init__(self, registry: Any = _DEFAULT, caches: Optional[Callable[[], dict[str, Any]]] = None) -> None:
        import prometheus_client
        self._caches = caches
        if registry is self._DEFAULT:
            registry = prometheus_client.REGISTRY
        if registry is not None:
            registry.register(self)

    def describe(self) -> list[Any]:
        """Nothing up front: the families depend on which caches are registered at scrape time."""
        return []

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
        for metric, points in collect(None if self._caches is None else self._caches()):
            label_names = ["cache", "tier", *metric.labels]
            family_class = CounterMetricFamily if metric.kind is Kind.COUNTER else GaugeMetricFamily
            family = family_class("fastcache_" + metric.name, metric.help, labels=label_names)
            for labels, value in points:
                family.add_metric([labels[k] for k in label_names], value)
            yield family


def instrument(meter: Any, caches: Optional[Callable[[], dict[str, Any]]] = None) -> list[Any]:
    """Observable OpenTelemetry instruments on ``meter`` (``fastcache.hits``, ...), one per
    metric, whose callbacks read the registered caches' statistics when the reader collects;
    the instruments."""
    from opentelemetry.metrics import Observation

    def callback_for(metric: Metric) -> Callable[[Any], Iterable[Any]]:
        def observe(options: Any) -> Iterable[Any]:
            for m, points in collect(None if caches is None else caches()):
                if m is metric:
                    return [Observation(value, labels) for labels, value in points]
            return []
        return observe

    instruments = []
    for metric in METRICS.values():
        create = meter.create_observable_counter if metric.kind is Kind.COUNTER else meter.create_observable_gauge
        instruments.append(create("fastcache." + metric.name, callbacks=[callback_for(metric)],
                                  unit=metric.unit, description=metric.help))
    return instruments
