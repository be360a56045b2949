"""Picking a store by URI, the way users configure one."""

from __future__ import annotations

from pathlib import Path

import pytest

from runyard.artifacts import (
    ContentAddressedStore,
    FsspecArtifactStore,
    LocalArtifactStore,
    get_artifact_store,
    open_cas,
)
from runyard.errors import InvalidArgument


def test_default_is_a_folder_in_runyard_home(runyard_home: Path) -> None:
    store = get_artifact_store()
    assert isinstance(store, LocalArtifactStore)
    assert store.root == runyard_home / "artifacts"


def test_the_environment_variable_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNYARD_ARTIFACT_URI", str(tmp_path / "from-env"))
    store = get_artifact_store()
    assert isinstance(store, LocalArtifactStore)
    assert store.root == tmp_path / "from-env"


def test_paths_and_file_uris_are_local_folders(tmp_path: Path) -> None:
    for uri in [str(tmp_path / "p"), (tmp_path / "p").as_uri(), f"file://localhost{tmp_path}/p"]:
        store = get_artifact_store(uri)
        assert isinstance(store, LocalArtifactStore)
        assert store.root == tmp_path / "p"


def test_object_store_uris_pick_fsspec(aws_env: str) -> None:
    store = get_artifact_store("s3://runyard-artifacts/team-a/")
    assert isinstance(store, FsspecArtifactStore)
    assert store.uri == "s3://runyard-artifacts/team-a"


def test_unsupported_uris_are_refused_with_the_supported_list(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="must be one of file, s3"):
        get_artifact_store("ftp://host/x")
    with pytest.raises(InvalidArgument, match="another host"):
        get_artifact_store("file://fileserver/share")
    with pytest.raises(InvalidArgument, match="object stores"):
        get_artifact_store(str(tmp_path), endpoint_url="http://x")


def test_open_cas_wraps_the_store(tmp_path: Path) -> None:
    cas = open_cas(str(tmp_path / "cas"))
    assert isinstance(cas, ContentAddressedStore)
    ref = cas.put_bytes(b"hello", "greeting.txt")
    assert ref.uri.startswith((tmp_path / "cas").as_uri() + "/blobs/sha256/")
    assert cas.download(ref, tmp_path / "out.txt").read_bytes() == b"hello"
