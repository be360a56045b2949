"""What only a local folder store can show: symlinks, temp files, files in folders' way."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runyard.artifacts import LocalArtifactStore, get_artifact_store
from runyard.errors import InvalidArgument, UnsafePath


@pytest.fixture
def layout(tmp_path: Path) -> tuple[LocalArtifactStore, Path]:
    """A store at ``root`` and a sibling folder ``outside`` holding a secret."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("api-key")
    return LocalArtifactStore(tmp_path / "root"), outside


def test_symlinks_out_of_the_root_are_refused_for_reads_and_writes(
    layout: tuple[LocalArtifactStore, Path],
) -> None:
    store, outside = layout
    (store.root / "escape").symlink_to(outside, target_is_directory=True)
    (store.root / "secret-link.txt").symlink_to(outside / "secret.txt")
    for attempt in (
        lambda: store.put_bytes(b"planted", "escape/planted.txt"),
        lambda: store.get_bytes("escape/secret.txt"),
        lambda: store.get_bytes("secret-link.txt"),
        lambda: store.exists("secret-link.txt"),
        lambda: store.delete("escape/secret.txt"),
        lambda: store.list("escape"),
    ):
        with pytest.raises(UnsafePath, match="symlink"):
            attempt()
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "api-key"
    assert store.list() == []  # links that lead out are not listed either


def test_symlinks_that_stay_inside_work(layout: tuple[LocalArtifactStore, Path]) -> None:
    store, _ = layout
    store.put_bytes(b"v3", "models/v3/model.bin")
    (store.root / "latest").symlink_to(store.root / "models" / "v3", target_is_directory=True)
    assert store.get_bytes("latest/model.bin") == b"v3"
    (store.root / "loop").symlink_to(store.root, target_is_directory=True)  # a cycle ends
    assert [i.path for i in store.list("models")] == ["models/v3/model.bin"]


def test_a_failed_write_leaves_no_temp_file(layout: tuple[LocalArtifactStore, Path]) -> None:
    store, _ = layout

    class Boom(Exception):
        pass

    class Dies:
        def __init__(self) -> None:
            self.calls = 0

        def read(self, n: int = -1) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise Boom
            return b"x" * 1024

    with pytest.raises(Boom):
        store.put_stream(Dies(), "ckpt/model.pt")  # type: ignore[arg-type]
    assert [f for _, _, files in os.walk(store.root) for f in files] == []


def test_files_and_folders_cannot_take_each_others_place(
    layout: tuple[LocalArtifactStore, Path],
) -> None:
    store, _ = layout
    store.put_bytes(b"1", "a/b.txt")
    with pytest.raises(InvalidArgument, match="folder"):
        store.put_bytes(b"2", "a")
    with pytest.raises(InvalidArgument, match="is a file"):
        store.put_bytes(b"3", "a/b.txt/c.txt")
    with pytest.raises(InvalidArgument, match="reserved"):
        store.put_bytes(b"4", "x.runyard-part")
    assert [i.path for i in store.list()] == ["a/b.txt"]


def test_deleting_a_folder_removes_empty_folders(layout: tuple[LocalArtifactStore, Path]) -> None:
    store, _ = layout
    store.put_bytes(b"1", "runs/7/metrics/a.json")
    store.put_bytes(b"2", "runs/7/plots/b.png")
    assert store.delete("runs/7") == 2
    assert os.listdir(store.root) == []


def test_the_uri_opens_the_same_folder(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "a b")
    store.put_bytes(b"1", "x.txt")
    assert store.uri == (tmp_path / "a b").as_uri()
    again = get_artifact_store(store.uri)
    assert isinstance(again, LocalArtifactStore) and again.root == store.root
    assert again.get_bytes("x.txt") == b"1"


def test_a_reader_keeps_the_version_it_opened(layout: tuple[LocalArtifactStore, Path]) -> None:
    store, _ = layout
    store.put_bytes(b"a" * 3_000_000, "model.bin")
    with store.open("model.bin") as stream:
        head = stream.read(1000)
        store.put_bytes(b"b" * 3_000_000, "model.bin")  # replaced mid-read
        assert head + stream.read() == b"a" * 3_000_000
    assert store.get_bytes("model.bin") == b"b" * 3_000_000


def test_listing_a_prefix_with_an_over_long_name_finds_nothing(tmp_path: Path) -> None:
    from runyard.artifacts.local import LocalArtifactStore

    store = LocalArtifactStore(tmp_path / "root")
    store.put_bytes(b"x", "a/b.txt")
    assert store.list("a/" + "n" * 300) == []
    assert [i.path for i in store.list("a")] == ["a/b.txt"]
