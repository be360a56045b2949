"""Prometheus metrics of a serving process: requests, latency, batch sizes, queue time."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

__all__ = ["CONTENT_TYPE", "ServingMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_BATCH = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class _RequestStats:
    """Answered requests: counts by (model, protocol, status), latency buckets and sums.

    Plain integers under one lock, read into the exposition when ``/metrics`` is scraped:
    ``prometheus_client``'s ``Counter.inc`` and ``Histogram.observe`` together cost ~3 µs a
    request (a lock per value, a Python loop over the buckets), which is a tenth of what a
    small model's whole request costs the server; this costs a few hundred nanoseconds.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[tuple[str, str, str], int] = {}
        self.buckets: dict[tuple[str, str], list[int]] = {}  # one more than _LATENCY: +Inf
        self.sums: dict[tuple[str, str], float] = {}

    def add(self, model: str, protocol: str, status: str, seconds: float) -> None:
        key = (model, protocol, status)
        series = (model, protocol)
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            buckets = self.buckets.get(series)
            if buckets is None:
                buckets = self.buckets[series] = [0] * (len(_LATENCY) + 1)
                self.sums[series] = 0.0
            buckets[bisect_left(_LATENCY, seconds)] += 1  # le: the first bound >= seconds
            self.sums[series] += seconds

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            counts = dict(self.counts)
            buckets = {k: list(v) for k, v in self.buckets.items()}
            sums = dict(self.sums)
        requests = CounterMetricFamily(
            "runyard_inference_requests",
            "Inference requests by model, protocol and outcome.",
            labels=["model", "protocol", "status"],
        )
        for key, n in sorted(counts.items()):
            requests.add_metric(list(key), n)
        latency = HistogramMetricFamily(
            "runyard_inference_request_duration_seconds",
            "Time from receiving an inference request to its answer.",
            labels=["model", "protocol"],
        )
        bounds = [*(repr(float(b)) for b in _LATENCY), "+Inf"]
        for series, counts_le in sorted(buckets.items()):
            cumulative = list(accumulate(counts_le))
            latency.add_metric(
                list(series), list(zip(bounds, cumulative, strict=True)), sums[series]
            )
        yield requests
        yield latency


class ServingMetrics:
    """The metrics of one server, in their own registry (several servers per process work).

    Example:
        >>> m = ServingMetrics()
        >>> m.request("digits-mlp", "http", "ok", 0.003)
        >>> b"runyard_inference_requests_total" in m.render()
        True
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = _RequestStats()
        self.registry.register(self._requests)
        self.batch_size = Histogram(
            "runyard_batch_size",
            "Rows per batch run by the model.",
            ["model"],
            buckets=_BATCH,
            registry=self.registry,
        )
        self.queue_time = Histogram(
            "runyard_queue_duration_seconds",
            "Time the oldest request of a batch waited in the queue.",
            ["model"],
            buckets=_LATENCY,
            registry=self.registry,
        )
        self.pending = Gauge(
            "runyard_inference_pending_requests",
            "Inference requests received and not yet answered.",
            ["model"],
            registry=self.registry,
        )
        # plain counts, read when the gauge is scraped: two dict updates per request
        self._pending: dict[str, int] = {}
        self._batch_children: dict[str, tuple[Histogram, Histogram]] = {}
        self.reloads = Counter(
            "runyard_model_reloads",
            "Models swapped for a new version after their alias moved.",
            ["model"],
            registry=self.registry,
        )

    def request(self, model: str, protocol: str, status: str, seconds: float) -> None:
        """Count one answered request and observe its latency."""
        self._requests.add(model, protocol, status, seconds)

    def batch(self, model: str, rows: int, queued: float) -> None:
        """Observe one batch."""
        pair = self._batch_children.get(model)
        if pair is None:
            pair = (self.batch_size.labels(model), self.queue_time.labels(model))
            self._batch_children[model] = pair
        pair[0].observe(rows)
        pair[1].observe(queued)

    def started(self, model: str) -> None:
        """One more request of ``model`` is waiting for its answer."""
        if model not in self._pending:
            self._pending[model] = 0
            self.pending.labels(model).set_function(lambda: self._pending[model])
        self._pending[model] += 1

    def finished(self, model: str) -> None:
        """A request counted by :meth:`started` was answered (or failed)."""
        self._pending[model] -= 1

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
