"""The Prometheus exposition a scraper reads: request counts and latency buckets."""

from __future__ import annotations

from runyard.serving.metrics import ServingMetrics


def _samples(m: ServingMetrics) -> dict[str, float]:
    out = {}
    for line in m.render().decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def test_request_counts_and_latency_buckets_read_like_a_prometheus_histogram() -> None:
    m = ServingMetrics()
    for seconds in (0.0002, 0.0005, 0.003, 9.0):  # 0.5 ms sits on a bound: counted in it
        m.request("digits-mlp", "http", "ok", seconds)
    m.request("digits-mlp", "grpc", "invalid", 0.001)
    s = _samples(m)
    ok = 'runyard_inference_requests_total{model="digits-mlp",protocol="http",status="ok"}'
    bad = 'runyard_inference_requests_total{model="digits-mlp",protocol="grpc",status="invalid"}'
    assert s[ok] == 4 and s[bad] == 1
    hist = "runyard_inference_request_duration_seconds"
    http = 'model="digits-mlp",protocol="http"'
    assert s[f'{hist}_bucket{{le="0.0005",{http}}}'] == 2
    assert s[f'{hist}_bucket{{le="0.001",{http}}}'] == 2
    assert s[f'{hist}_bucket{{le="0.005",{http}}}'] == 3
    assert s[f'{hist}_bucket{{le="2.5",{http}}}'] == 3
    assert s[f'{hist}_bucket{{le="+Inf",{http}}}'] == 4
    assert s[f"{hist}_count{{{http}}}"] == 4
    assert abs(s[f"{hist}_sum{{{http}}}"] - 9.0037) < 1e-9
    assert s[f'{hist}_count{{model="digits-mlp",protocol="grpc"}}'] == 1
