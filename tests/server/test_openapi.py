"""The OpenAPI spec: committed, matching the app, and fuzzed (no request gets a 5xx)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_committed_spec_matches_the_app(app_server) -> None:  # type: ignore[no-untyped-def]
    served = httpx.get(f"{app_server.url}/openapi.json").json()
    committed = json.loads(SPEC.read_text())
    assert served == committed, (
        'docs/openapi.json is stale; regenerate it with: python -c "import json; '
        "from runyard.server import create_app; print(json.dumps(create_app(None, None)"
        '.openapi(), indent=2, sort_keys=True))" > docs/openapi.json'
    )


@pytest.mark.slow
def test_fuzzing_the_spec_finds_no_server_error(app_server) -> None:  # type: ignore[no-untyped-def]
    import schemathesis
    from hypothesis import HealthCheck, settings

    # the Arrow ingest body is binary: send what hypothesis generates as raw bytes
    schemathesis.serializer.alias("application/vnd.apache.arrow.stream", "application/octet-stream")
    schema = schemathesis.openapi.from_url(f"{app_server.url}/openapi.json")
    failures: list[str] = []
    for op in schema.get_all_operations():
        operation = op.ok()

        from hypothesis import given

        @settings(max_examples=15, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy())
        def check(case: object) -> None:
            response = case.call(base_url=app_server.url)  # type: ignore[attr-defined]
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")  # type: ignore[attr-defined]

        check()
    assert failures == []
