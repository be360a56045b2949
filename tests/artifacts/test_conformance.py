"""Every artifact store backend, and the content-addressed wrapper on each, passes the suites.

Backends: a local folder, and S3 on a real S3-protocol server process (moto's server mode on
127.0.0.1, started by ``conftest.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from runyard.artifacts import ArtifactStore, LocalArtifactStore
from runyard.testing.artifact_store import ArtifactStoreSuite, ContentAddressedStoreSuite


def _local_store_at(tmp_path: Path) -> Callable[[str], ArtifactStore]:
    area = tmp_path / "area"
    return lambda sub: LocalArtifactStore(area / sub if sub else area)


class TestLocalArtifactStore(ArtifactStoreSuite):
    __test__ = True

    @pytest.fixture
    def store_at(self, tmp_path: Path) -> Callable[[str], ArtifactStore]:
        return _local_store_at(tmp_path)


class TestS3ArtifactStore(ArtifactStoreSuite):
    __test__ = True

    @pytest.fixture
    def store_at(
        self, s3_store_at: Callable[[str], ArtifactStore]
    ) -> Callable[[str], ArtifactStore]:
        return s3_store_at


class TestLocalContentAddressedStore(ContentAddressedStoreSuite):
    __test__ = True

    @pytest.fixture
    def store_at(self, tmp_path: Path) -> Callable[[str], ArtifactStore]:
        return _local_store_at(tmp_path)


class TestS3ContentAddressedStore(ContentAddressedStoreSuite):
    __test__ = True

    @pytest.fixture
    def store_at(
        self, s3_store_at: Callable[[str], ArtifactStore]
    ) -> Callable[[str], ArtifactStore]:
        return s3_store_at
