"""Blobs written without waiting for the disk, then made durable in one group."""

import os
from pathlib import Path

import pytest

from runyard.artifacts import LocalArtifactStore, open_cas
from runyard.artifacts import local as local_module
from runyard.artifacts.cas import ContentAddressedStore
from runyard.artifacts.local import quick_check_path
from runyard.artifacts.paths import check_path
from runyard.errors import InvalidArgument, RunyardError, StoreError, UnsafePath


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file or folder the local store fsyncs, in order."""
    seen: list[Path] = []
    real = local_module._fsync

    def record(target: Path) -> None:
        real(target)
        seen.append(Path(target))

    monkeypatch.setattr(local_module, "_fsync", record)
    return seen


def test_an_unsynced_write_is_whole_and_readable_at_once(
    tmp_path: Path, synced: list[Path]
) -> None:
    store = LocalArtifactStore(tmp_path / "root")
    store.put_bytes(b"old", "a/b.bin")
    store.put_bytes(b"new", "a/b.bin", sync=False)
    assert store.get_bytes("a/b.bin") == b"new"
    assert os.listdir(tmp_path / "root" / "a") == ["b.bin"]  # no temp file left
    synced.clear()
    store.sync_files(["a/b.bin"])
    assert set(synced) == {tmp_path / "root" / "a" / "b.bin", tmp_path / "root" / "a"}


def test_an_unsynced_write_refuses_what_a_synced_one_refuses(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "root")
    store.put_bytes(b"x", "file")
    store.put_bytes(b"x", "folder/inside")
    with pytest.raises(InvalidArgument, match="in the way"):
        store.put_bytes(b"y", "file/below", sync=False)
    with pytest.raises(InvalidArgument, match="folder"):
        store.put_bytes(b"y", "folder", sync=False)
    with pytest.raises(InvalidArgument, match="reserved"):
        store.put_bytes(b"y", "a.runyard-part", sync=False)
    with pytest.raises(UnsafePath):
        store.put_bytes(b"y", "../escape", sync=False)
    assert store.get_bytes("file") == b"x"
    assert sorted(i.path for i in store.list()) == ["file", "folder/inside"]


def test_cas_blobs_wait_for_sync_and_then_are_durable(tmp_path: Path, synced: list[Path]) -> None:
    cas = open_cas(str(tmp_path / "art"))
    refs = [cas.put_bytes(f"out {i}".encode(), f"outputs/{i}.txt", durable=False) for i in range(5)]
    assert cas.unsynced == 5
    assert synced == []  # nothing waited for the disk yet
    assert [cas.get_bytes(r) for r in refs] == [f"out {i}".encode() for i in range(5)]
    cas.sync()
    assert cas.unsynced == 0
    root = tmp_path / "art"
    blobs = {root / ContentAddressedStore.blob_path(r) for r in refs}
    assert blobs <= set(synced)
    assert {b.parent for b in blobs} <= set(synced)  # the names are durable too
    synced.clear()
    cas.sync()
    assert synced == []  # nothing left to do


def test_a_failed_sync_keeps_the_blobs_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cas = open_cas(str(tmp_path / "art"))
    cas.put_bytes(b"a", "a.txt", durable=False)
    cas.put_bytes(b"b", "b.txt", durable=False)

    def broken(target: Path) -> None:
        raise StoreError(f"cannot sync {target}: disk full")

    with monkeypatch.context() as m:
        m.setattr(local_module, "_fsync", broken)
        with pytest.raises(StoreError, match="disk full"):
            cas.sync()
    assert cas.unsynced == 2
    cas.sync()
    assert cas.unsynced == 0


def test_a_durable_put_of_a_blob_another_writer_left_unsynced_syncs_it(
    tmp_path: Path, synced: list[Path]
) -> None:
    fast = open_cas(str(tmp_path / "art"))
    careful = open_cas(str(tmp_path / "art"))
    ref = fast.put_bytes(b"shared", "a.bin", durable=False)
    careful.put_bytes(b"shared", "b.bin")  # the content exists: it is not written again
    assert tmp_path / "art" / ContentAddressedStore.blob_path(ref) in synced


@pytest.mark.parametrize(
    "path",
    [
        "a/b",
        "blobs/sha256/ab/cd",
        "ok-file_1.txt",
        ".hidden",
        "a%2e%2e/x",
        "../x",
        "a/../b",
        "./a",
        "a//b",
        "/a",
        "a/",
        "c:/x",
        "a/.",
        "a\\b",
        "s3://bucket/x",
        "a\x00b",
        "x" * 2000,
        "",
    ],
)
def test_the_quick_path_check_agrees_with_the_full_one(path: str) -> None:
    try:
        expected: object = check_path(path)
    except RunyardError as e:
        expected = type(e)
    try:
        got: object = quick_check_path(path)
    except RunyardError as e:
        got = type(e)
    assert got == expected


def test_a_blob_made_durable_once_is_not_synced_again(tmp_path: Path, synced: list[Path]) -> None:
    cas = open_cas(str(tmp_path / "art"))
    cas.put_bytes(b"graph", "runyard/graph.json", durable=False)
    cas.sync()
    synced.clear()
    cas.put_bytes(b"graph", "runyard/graph.json", durable=False)  # the same content again
    assert cas.unsynced == 0
    other = open_cas(str(tmp_path / "art"))  # another writer finds it in place
    ref = other.put_bytes(b"graph", "copy.json", durable=False)
    other.sync()
    blob = tmp_path / "art" / ContentAddressedStore.blob_path(ref)
    assert synced == [blob]  # its content only: its name was there already
