"""Prometheus metrics of a server process: request counts, latencies, ingested points.

Kept in-process without a client library; ``GET /metrics`` renders the text exposition
format. With ``--workers N`` each worker reports its own counters (label ``pid``), which
Prometheus sums across scrapes of a load-balanced target.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections import defaultdict

__all__ = ["LATENCY_BUCKETS_S", "Telemetry"]

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Telemetry:
    """Thread-safe counters for one server process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = {}
        self._sums: dict[str, float] = defaultdict(float)
        self._counts: dict[str, int] = defaultdict(int)
        self._points = 0

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        with self._lock:
            self._requests[(method, route, status)] += 1
            buckets = self._buckets.setdefault(route, [0] * (len(LATENCY_BUCKETS_S) + 1))
            buckets[bisect.bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
            self._sums[route] += seconds
            self._counts[route] += 1

    def add_points(self, n: int) -> None:
        """Record ``n`` ingested metric points."""
        with self._lock:
            self._points += n

    def render(self) -> str:
        """The metrics in Prometheus text exposition format."""
        pid = os.getpid()
        lines = [
            "# HELP runyard_http_requests_total HTTP requests by method, route and status.",
            "# TYPE runyard_http_requests_total counter",
        ]
        with self._lock:
            for (method, route, status), n in sorted(self._requests.items()):
                lines.append(
                    f'runyard_http_requests_total{{pid="{pid}",method="{method}",'
                    f'route="{route}",status="{status}"}} {n}'
                )
            lines += [
                "# HELP runyard_http_request_duration_seconds Request latency by route.",
                "# TYPE runyard_http_request_duration_seconds histogram",
            ]
            for route, buckets in sorted(self._buckets.items()):
                running = 0
                for bound, n in zip((*LATENCY_BUCKETS_S, "+Inf"), buckets, strict=True):
                    running += n
                    lines.append(
                        "runyard_http_request_duration_seconds_bucket"
                        f'{{pid="{pid}",route="{route}",le="{bound}"}} {running}'
                    )
                lines.append(
                    f'runyard_http_request_duration_seconds_sum{{pid="{pid}",route="{route}"}} '
                    f"{self._sums[route]:.6f}"
                )
                lines.append(
                    f'runyard_http_request_duration_seconds_count{{pid="{pid}",route="{route}"}} '
                    f"{self._counts[route]}"
                )
            lines += [
                "# HELP runyard_ingested_points_total Metric points accepted by this process.",
                "# TYPE runyard_ingested_points_total counter",
                f'runyard_ingested_points_total{{pid="{pid}"}} {self._points}',
            ]
        return "\n".join(lines) + "\n"
