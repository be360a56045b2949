"""Fixtures shared by the whole suite.

Every test gets its own project-local runyard home (a temporary folder), so embedded
defaults never touch the working tree and tests never see each other's runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")


@pytest.fixture(autouse=True)
def runyard_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh RUNYARD_HOME per test; the tracking and artifact URIs default into it."""
    home = tmp_path / "runyard-home"
    monkeypatch.setenv("RUNYARD_HOME", str(home))
    monkeypatch.delenv("RUNYARD_TRACKING_URI", raising=False)
    monkeypatch.delenv("RUNYARD_ARTIFACT_URI", raising=False)
    yield home
