"""Pipelines run against the real SQLite tracking store and a real local artifact folder."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runyard.artifacts import ContentAddressedStore, open_cas
from runyard.tracking.store import TrackingStore, get_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TrackingStore]:
    s = get_store(f"sqlite:///{tmp_path / 'runyard.db'}")
    yield s
    s.close()


@pytest.fixture
def cas(tmp_path: Path) -> ContentAddressedStore:
    return open_cas(str(tmp_path / "artifacts"))


@pytest.fixture
def where(store: TrackingStore, cas: ContentAddressedStore) -> dict[str, Any]:
    """The keyword arguments that point a run at this test's stores."""
    return {"store": store, "artifacts": cas}
