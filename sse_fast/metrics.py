"""Prometheus metrics (extra ``[metrics]``): streams, their ends, the broker and the stream limit.

Nothing is counted per event for them but a writer's frames, bytes and heartbeats (plain ints): every
figure is read, when Prometheus scrapes, from what sse_fast keeps anyway (the registry of open streams, its
ends by reason and the written counts, ``Broker.stats()``, the Redis log's ``stats()``, a ``StreamLimit``'s
counts). In one process a collector reads them at scrape time. Under several worker processes (prometheus
-client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR`` set) a scrape reaches one worker only, so each
worker copies its figures into the shared files every ``interval`` seconds, and before it answers a scrape::

    sse_fast.metrics.watch(broker, limit)           # the brokers and limits to report (held weakly)
    app.mount("/metrics", sse_fast.metrics.asgi_app())   # FastAPI / Starlette; wsgi_app() for WSGI
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import Counter as Tally
from typing import Any, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Set, Tuple

from . import registry
from ._refusals import shown
from .errors import InvalidType, InvalidValue

try:
    import prometheus_client
    from prometheus_client import CollectorRegistry, Counter, Gauge, multiprocess
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.registry import Collector
except ModuleNotFoundError as _absent:
    from .integrations._missing import missing_framework

    raise missing_framework(_absent, "sse_fast.metrics", "prometheus_client", "metrics") from None

from .broker import Broker
from .broker.engine import CAUSES
from .limits import StreamLimit

__all__ = [
    "COUNTER", "DEFAULT_INTERVAL", "GAUGE", "TOPIC_SIZES", "Family", "SSECollector", "asgi_app", "families",
    "multiprocess_dir", "start", "watch", "wsgi_app",
]  # fmt: skip

GAUGE: str = "gauge"
COUNTER: str = "counter"
TOPIC_SIZES: Tuple[int, ...] = (1, 10, 100, 1000, 10000)  # the bounds of sse_fast_broker_topics_by_subscribers{le}
DEFAULT_INTERVAL: float = 1.0

_watched: "weakref.WeakSet[Any]" = weakref.WeakSet()
_log = logging.getLogger("sse_fast.metrics")


class Family(NamedTuple):
    """One metric's figures now: ``values`` maps label values (in ``labels`` order) to a number."""

    name: str
    kind: str
    doc: str
    labels: Tuple[str, ...]
    values: Dict[Tuple[str, ...], float]


def watch(*objects: Any) -> None:
    """Report these brokers and stream limits too (held weakly: one that is dropped leaves the figures)."""
    for obj in objects:
        if not isinstance(obj, (Broker, StreamLimit)):
            raise InvalidType(f"watch() takes Broker or StreamLimit objects, got {type(obj).__name__}: {shown(obj)}")
    for obj in objects:
        _watched.add(obj)


def families() -> List[Family]:
    """Every figure as it is now, in this process."""
    streams = Tally(_transport(writer) for writer in registry.open_streams())
    watched = list(_watched)
    brokers = [obj for obj in watched if isinstance(obj, Broker)]
    limits = [obj for obj in watched if isinstance(obj, StreamLimit)]
    stats = [broker.stats() for broker in brokers]
    readers = [_reader_stats(broker) for broker in brokers]
    frames, size, beats = registry.written()

    def total(key: str) -> float:
        return float(sum(s.get(key, 0) for s in stats))

    def reader(key: str) -> float:
        return float(sum(s.get(key, 0) for s in readers))

    def one(name: str, kind: str, doc: str, value: float) -> Family:
        return Family(name, kind, doc, (), {(): value})

    sizes = [size for broker in brokers for size in _topic_sizes(broker)]
    return [
        Family("sse_fast_open_streams", GAUGE, "Streams open now, by transport.", ("transport",),
               {(kind,): float(n) for kind, n in streams.items()}),
        Family("sse_fast_stream_ends", COUNTER, "Streams ended, by reason.", ("reason",),
               {(str(reason),): float(n) for reason, n in registry.ends().items()}),
        one("sse_fast_events_written", COUNTER, "Frames written to streams, heartbeats not included.",
            float(frames - beats)),
        one("sse_fast_bytes_written", COUNTER, "Bytes written to streams, heartbeats included.", float(size)),
        one("sse_fast_heartbeats", COUNTER, "Heartbeats written to streams.", float(beats)),
        one("sse_fast_broker_topics", GAUGE, "Topics with a subscriber in this process.", total("topics")),
        one("sse_fast_broker_subscribers", GAUGE, "Broker subscribers in this process.", total("subscribers")),
        Family("sse_fast_broker_topics_by_subscribers", GAUGE,
               "Topics with at most `le` subscribers in this process (cumulative).", ("le",),
               {(_bound(le),): float(sum(1 for n in sizes if n <= le)) for le in (*TOPIC_SIZES, float("inf"))}),
        one("sse_fast_broker_published", COUNTER, "Events published, as this process saw them.", total("published")),
        one("sse_fast_broker_delivered", COUNTER, "Events handed to subscribers' streams.", total("delivered")),
        one("sse_fast_broker_replayed", COUNTER, "Events sent from history to resuming subscribers.",
            total("replayed")),
        one("sse_fast_broker_dropped_slow", COUNTER, "Subscribers dropped as slow.", total("dropped_slow")),
        Family("sse_fast_broker_resets", COUNTER, "Reset frames sent, by cause.", ("cause",),
               {(cause,): total(f"resets_{cause}") for cause in CAUSES}),
        one("sse_fast_broker_gaps", COUNTER, "Gaps found in the live feed.", total("gaps")),
        one("sse_fast_redis_reader_lag_entries", GAUGE,
            "Entries the Redis reader's last read returned at once (waiting when it read).", reader("lag_entries")),
        one("sse_fast_redis_reader_lag_ms", GAUGE,
            "Redis's clock at the reader's last read minus its newest entry's id, in ms.", reader("lag_ms")),
        one("sse_fast_redis_reader_reconnects", COUNTER, "Redis reader retries after a fault.",
            reader("reconnects")),
        one("sse_fast_broker_unavailable", COUNTER, "BrokerUnavailable errors the Redis log raised.",
            reader("unavailable")),
        one("sse_fast_limit_open", GAUGE, "Streams a StreamLimit counts as open.", float(sum(x.open for x in limits))),
        one("sse_fast_limit_admitted", COUNTER, "Streams a StreamLimit admitted.",
            float(sum(x.admitted for x in limits))),
        one("sse_fast_limit_refused", COUNTER, "Requests a StreamLimit refused (503).",
            float(sum(x.refused for x in limits))),
    ]  # fmt: skip


class SSECollector(Collector):
    """A prometheus-client collector that reads ``families()`` at each scrape (one process)."""

    def collect(self) -> Iterator[Metric]:
        for family in families():
            kind = GaugeMetricFamily if family.kind == GAUGE else CounterMetricFamily
            metric = kind(family.name, family.doc, labels=family.labels)
            for labels, value in family.values.items():
                metric.add_metric(list(labels), value)
            yield metric


class _Copier:
    """Multiprocess mode: this worker's figures copied into prometheus-client's shared files (gauges are
    summed over live workers, counters over every worker that ever ran)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._metrics: Dict[str, Any] = {}
        self._last: Dict[Tuple[str, Tuple[str, ...]], float] = {}
        self._gauges: Dict[str, Set[Tuple[str, ...]]] = {}  # every label set each gauge has had
        self._lock = threading.Lock()
        self._registry = registry

    def copy(self) -> None:
        with self._lock:
            for family in families():
                metric = self._metric(family)
                values = family.values
                if family.kind == GAUGE:  # a label gone from the figures (no asgi stream left) reads 0, not its last
                    gone = self._gauges.setdefault(family.name, set()) - values.keys()
                    self._gauges[family.name].update(values)
                    values = {**dict.fromkeys(gone, 0.0), **values}
                for labels, value in values.items():
                    child = metric.labels(*labels) if labels else metric
                    if family.kind == GAUGE:
                        child.set(value)
                        continue
                    step = value - self._last.get((family.name, labels), 0.0)
                    self._last[(family.name, labels)] = value
                    if step > 0:  # a count that fell (a watched broker was dropped) starts again from there
                        child.inc(step)

    def _metric(self, family: Family) -> Any:
        metric = self._metrics.get(family.name)
        if metric is None:
            if family.kind == GAUGE:
                metric = Gauge(family.name, family.doc, family.labels, registry=self._registry,
                               multiprocess_mode="livesum")  # fmt: skip
            else:
                metric = Counter(family.name, family.doc, family.labels, registry=self._registry)
            self._metrics[family.name] = metric
        return metric

    def run(self, interval: float) -> None:
        """The worker's copying thread: a copy that fails is logged, and the next one tries again."""
        while True:
            time.sleep(interval)
            try:
                self.copy()
            except Exception:
                _log.exception("sse_fast.metrics could not copy this worker's figures")


_started: Optional[Callable[[], None]] = None  # what a scrape calls first: the copy in multiprocess mode
_start_lock = threading.Lock()


def multiprocess_dir() -> Optional[str]:
    """prometheus-client's multiprocess directory, if this process runs in that mode."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir") or None


def start(interval: float = DEFAULT_INTERVAL, registry: Optional[CollectorRegistry] = None) -> Callable[[], None]:
    """Begin reporting (once per process; the exposure helpers call it): in one process, register the
    collector with ``registry`` (prometheus-client's default); in multiprocess mode, start copying this
    worker's figures every ``interval`` seconds. Returns what brings the figures up to date now."""
    global _started
    if not isinstance(interval, (int, float)) or not interval > 0:
        raise InvalidValue(f"interval must be a number of seconds > 0, got {shown(interval)}")
    with _start_lock:
        if _started is None:
            if multiprocess_dir():
                copier = _Copier(CollectorRegistry())  # the values live in the files, not in this registry
                threading.Thread(target=copier.run, args=(interval,), name="sse-metrics", daemon=True).start()
                _started = copier.copy
            else:
                (registry if registry is not None else prometheus_client.REGISTRY).register(SSECollector())
                _started = _nothing
        return _started


def _exposed(registry: Optional[CollectorRegistry]) -> CollectorRegistry:
    """The registry a scrape reads: every worker's files in multiprocess mode, else ``registry``."""
    path = multiprocess_dir()
    if path:
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=path)  # type: ignore[no-untyped-call]
        return merged
    return registry if registry is not None else prometheus_client.REGISTRY


def asgi_app(registry: Optional[CollectorRegistry] = None, interval: float = DEFAULT_INTERVAL) -> Any:
    """An ASGI app that answers a Prometheus scrape (mount it at ``/metrics``); starts reporting."""
    refresh = start(interval, registry)
    inner = prometheus_client.make_asgi_app(_exposed(registry))

    async def metrics_app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            refresh()
        await inner(scope, receive, send)

    return metrics_app


def wsgi_app(registry: Optional[CollectorRegistry] = None, interval: float = DEFAULT_INTERVAL) -> Any:
    """A WSGI app that answers a Prometheus scrape; starts reporting."""
    refresh = start(interval, registry)
    inner = prometheus_client.make_wsgi_app(_exposed(registry))

    def metrics_app(environ: Dict[str, Any], start_response: Any) -> Iterable[bytes]:
        refresh()
        result: Iterable[bytes] = inner(environ, start_response)
        return result

    return metrics_app


def _transport(writer: Any) -> str:
    """``asgi``, ``wsgi``, ``streams``, ``aiohttp``, ``django``...: the module its sink comes from."""
    return type(writer.sink).__module__.rpartition(".")[2]


def _topic_sizes(broker: Broker) -> List[int]:
    """How many subscribers each topic of ``broker`` has in this process."""
    with broker._lock:
        return [sum(len(group) for group in by_loop.values()) for by_loop in broker._topics.values()]


def _reader_stats(broker: Broker) -> Dict[str, int]:
    """The Redis reader's figures of ``broker`` (``RedisLog.stats()``); none for a log without them (memory)."""
    stats = getattr(broker.log, "stats", None)
    return stats() if callable(stats) else {}


def _bound(le: float) -> str:
    return "+Inf" if le == float("inf") else str(le)


def _nothing() -> None:
    return None
