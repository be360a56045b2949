"""Prometheus metrics of a serving process: requests, latency, batch sizes, queue time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "ServingMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_BATCH = (1, 2, 4, 8, 16, 32, 64, 128, 256)


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
        self.requests = Counter(
            "runyard_inference_requests",
            "Inference requests by model, protocol and outcome.",
            ["model", "protocol", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "runyard_inference_request_duration_seconds",
            "Time from receiving an inference request to its answer.",
            ["model", "protocol"],
            buckets=_LATENCY,
            registry=self.registry,
        )
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
        self._request_children: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}
        self._batch_children: dict[str, tuple[Histogram, Histogram]] = {}
        self.reloads = Counter(
            "runyard_model_reloads",
            "Models swapped for a new version after their alias moved.",
            ["model"],
            registry=self.registry,
        )

    def request(self, model: str, protocol: str, status: str, seconds: float) -> None:
        """Count one answered request and observe its latency."""
        key = (model, protocol, status)
        pair = self._request_children.get(key)
        if pair is None:  # ``labels()`` takes a lock and builds a key: once per label set
            pair = (self.requests.labels(*key), self.latency.labels(model, protocol))
            self._request_children[key] = pair
        pair[0].inc()
        pair[1].observe(seconds)

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
