"""Conformance suites every artifact store backend passes.

:class:`ArtifactStoreSuite` checks the :class:`~runyard.artifacts.base.ArtifactStore` contract;
:class:`ContentAddressedStoreSuite` checks the content-addressed wrapper on top of a backend.
A backend's test module subclasses them, sets ``__test__ = True`` and provides one fixture,
``store_at``: folder → a store of that backend rooted there (``""``: the test's own empty
area). The suites test ``store_at("root")`` and check ``store_at("")`` to prove that nothing
was written outside it.

Example:
    A backend's test module::

        class TestLocalArtifactStore(ArtifactStoreSuite):
            __test__ = True

            @pytest.fixture
            def store_at(self, tmp_path):
                return lambda sub: LocalArtifactStore(tmp_path / "area" / sub)
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import pytest

from runyard.artifacts.base import ArtifactInfo, ArtifactStore
from runyard.artifacts.cas import ContentAddressedStore
from runyard.entities import ArtifactRef
from runyard.errors import InvalidArgument, NotFound, StoreError, UnsafePath

__all__ = [
    "LARGE_FILE_BYTES",
    "MEMORY_BOUND_BYTES",
    "UNSAFE_PATHS",
    "ArtifactStoreSuite",
    "ContentAddressedStoreSuite",
    "StoreAt",
]

StoreAt = Callable[[str], ArtifactStore]
"""The fixture type a backend provides: relative folder → a store rooted there."""

LARGE_FILE_BYTES = 200 * 1024 * 1024
"""The size of the file the streaming tests push through a store."""

MEMORY_BOUND_BYTES = 64 * 1024 * 1024
"""The most Python memory a streamed copy of :data:`LARGE_FILE_BYTES` may take at its peak."""

# fmt: off
UNSAFE_PATHS: list[tuple[str, str]] = [
    ("dotdot", "../escape.txt"),                 ("dotdot-deep", "a/../../escape.txt"),
    ("dotdot-only", ".."),                       ("dot-segment", "a/./b.txt"),
    ("absolute", "/etc/passwd"),                 ("absolute-tmp", "/tmp/escape.txt"),
    ("drive-letter", "C:/Windows/win.ini"),      ("drive-relative", "c:escape.txt"),
    ("unc", "//server/share/x"),                 ("backslash-traversal", "..\\..\\escape.txt"),
    ("backslash", "a\\b.txt"),                   ("nul-byte", "ok.txt\x00.png"),
    ("control-char", "a\nb.txt"),                ("empty-segment", "a//b.txt"),
    ("trailing-slash-file", "a/b.txt//"),        ("file-uri", "file:///etc/passwd"),
    ("s3-uri", "s3://other-bucket/key"),         ("pct-dotdot-slash", "%2e%2e%2fescape.txt"),
    ("pct-upper", "%2E%2E%2Fescape.txt"),        ("pct-dotdot", "%2e%2e/escape.txt"),
    ("pct-slash", "..%2fescape.txt"),            ("pct-backslash", "..%5cescape.txt"),
    ("pct-double", "%252e%252e%252fescape.txt"), ("pct-triple", "%25252e%25252e%25252fescape.txt"),
    ("pct-nul", "ok.txt%00.png"),                ("pct-absolute", "%2fetc%2fpasswd"),
    ("fullwidth-dots", "\uff0e\uff0e/escape.txt"), ("fullwidth-slash", "..\uff0fescape.txt"),
]
# fmt: on
"""``(id, path)`` pairs every store refuses with UnsafePath: the patterns of the published
path-traversal advisories against MLflow's artifact handlers, and their encodings."""

_UNSAFE = [pytest.param(path, id=case_id) for case_id, path in UNSAFE_PATHS]
_MIB = 1024 * 1024
_T = TypeVar("_T")


class _ScriptedStream(io.RawIOBase):
    """A binary stream over an iterator of chunks (which may block or raise midway)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._pending:
            self._pending = next(self._chunks, b"")
        n = min(len(buffer), len(self._pending))
        memoryview(buffer).cast("B")[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _stream(chunks: Iterator[bytes]) -> BinaryIO:
    return io.BufferedReader(_ScriptedStream(chunks))


class _WriterCrashed(Exception):
    """Raised by a test stream midway, as a crashing producer would."""


def _failing_stream(good_bytes: int) -> BinaryIO:
    """A stream that yields ``good_bytes`` of data, then raises."""

    def chunks() -> Iterator[bytes]:
        yield from [b"p" * _MIB] * (good_bytes // _MIB)
        raise _WriterCrashed(f"producer died after {good_bytes} bytes")

    return _stream(chunks())


def _write_large_file(path: Path, size: int) -> str:
    """Write ``size`` bytes of random data to ``path`` in chunks; return its sha256 hex."""
    sha = hashlib.sha256()
    with open(path, "wb") as out:
        for _ in range(size // _MIB):
            chunk = os.urandom(_MIB)
            sha.update(chunk)
            out.write(chunk)
    return sha.hexdigest()


def _sha256_of_stream(stream: BinaryIO) -> str:
    sha = hashlib.sha256()
    while chunk := stream.read(_MIB):
        sha.update(chunk)
    return sha.hexdigest()


def _sha256_of_file(path: Path) -> str:
    with open(path, "rb") as f:
        return _sha256_of_stream(f)


def _peak_memory(action: Callable[[], _T]) -> tuple[_T, int]:
    """What ``action`` returns, and the peak of Python allocations (bytes) while it ran."""
    tracemalloc.start()
    try:
        result = action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    """Every local file under ``root`` whose content contains ``needle``."""
    return sorted(p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes())


def _paths(infos: list[ArtifactInfo]) -> list[str]:
    return [i.path for i in infos]


class _BackendSuite:
    __test__ = False

    @pytest.fixture
    def store_at(self) -> StoreAt:
        """Overridden by each backend's test class (see the module docstring)."""
        raise NotImplementedError


class ArtifactStoreSuite(_BackendSuite):
    """The contract of :class:`~runyard.artifacts.base.ArtifactStore`, as tests."""

    @pytest.fixture
    def store(self, store_at: StoreAt) -> ArtifactStore:
        """The store under test, rooted at ``root`` inside the test's area."""
        return store_at("root")

    # -- roundtrips ---------------------------------------------------------------------

    def test_bytes_roundtrip(self, store: ArtifactStore) -> None:
        """Bytes written come back unchanged, with their size and URI; empty files too."""
        info = store.put_bytes(b"accuracy=0.93", "metrics/summary.txt")
        assert info == ArtifactInfo("metrics/summary.txt", 13)
        assert store.get_bytes("metrics/summary.txt") == b"accuracy=0.93"
        assert store.exists("metrics/summary.txt")
        assert store.info("metrics/summary.txt") == info
        assert not store.exists("metrics")  # a folder is not a file
        assert store.put_bytes(b"", "empty.bin") == ArtifactInfo("empty.bin", 0)
        assert store.get_bytes("empty.bin") == b""
        assert store.uri_for("empty.bin") == store.uri + "/empty.bin"
        assert "://" in store.uri and not store.uri.endswith("/")

    def test_file_roundtrip(self, store: ArtifactStore, tmp_path: Path) -> None:
        """A local file goes in and comes out, to a file path or into a folder."""
        (source := tmp_path / "weights.bin").write_bytes(b"\x00\x01" * 5000)
        assert store.put_file(source, "model/weights.bin").size == 10000
        out = tmp_path / "out" / "w.bin"
        assert store.get_file("model/weights.bin", out) == out
        assert out.read_bytes() == source.read_bytes()
        folder = tmp_path / "into"
        folder.mkdir()
        assert store.get_file("model/weights.bin", folder) == folder / "weights.bin"
        assert (folder / "weights.bin").read_bytes() == source.read_bytes()

    def test_stream_roundtrip_in_chunks(self, store: ArtifactStore) -> None:
        """A stream written in chunks reads back whole, partially or at once."""
        chunks = [bytes([i]) * 300_000 for i in range(7)]
        info = store.put_stream(_stream(iter(chunks)), "logs/train.log")
        assert info.size == 2_100_000
        with store.open("logs/train.log") as stream:
            assert stream.read(10) + stream.read() == b"".join(chunks)

    def test_names_that_are_safe_are_kept_as_given(self, store: ArtifactStore) -> None:
        """Unicode, spaces, dots and literal percent signs are ordinary names."""
        names = ["données/résumé é.txt", "plots/loss curve (v2).png", "100%.txt", "a%20b.txt"]
        names += [".hidden/.env", "deep/" * 20 + "leaf.txt"]
        for i, name in enumerate(names):
            store.put_bytes(str(i).encode(), name)
        assert _paths(store.list()) == sorted(names)
        for i, name in enumerate(names):
            assert store.get_bytes(name) == str(i).encode()

    def test_overwrite_replaces_the_whole_file(self, store: ArtifactStore) -> None:
        """Writing a path again replaces the file, never appends or mixes."""
        store.put_bytes(b"x" * 5000, "state.json")
        store.put_bytes(b"short", "state.json")
        assert store.get_bytes("state.json") == b"short"
        assert store.list() == [ArtifactInfo("state.json", 5)]

    def test_move(self, store: ArtifactStore) -> None:
        """A move makes the file appear under the new path only."""
        store.put_bytes(b"payload", "staging/x.bin")
        assert store.move("staging/x.bin", "final/x.bin") == ArtifactInfo("final/x.bin", 7)
        assert not store.exists("staging/x.bin")
        assert store.get_bytes("final/x.bin") == b"payload"
        with pytest.raises(NotFound):
            store.move("staging/x.bin", "final/y.bin")

    # -- missing and refused input ------------------------------------------------------

    def test_missing_files_raise_not_found(self, store: ArtifactStore, tmp_path: Path) -> None:
        """Reading what is not there raises NotFound and writes nothing locally."""
        store.put_bytes(b"1", "present/file.txt")
        assert not store.exists("absent.txt")
        for read in (store.open, store.get_bytes, store.info):
            with pytest.raises(NotFound):
                read("absent.txt")
        with pytest.raises(NotFound):
            store.get_bytes("present")  # a folder is not a file
        with pytest.raises(NotFound):
            store.get_file("absent.txt", tmp_path / "dest.txt")
        assert not (tmp_path / "dest.txt").exists()

    def test_bad_sources_are_refused_and_nothing_written(
        self, store: ArtifactStore, tmp_path: Path
    ) -> None:
        """Wrong sources are refused with InvalidArgument before anything is written."""
        with pytest.raises(InvalidArgument, match="does not exist"):
            store.put_file(tmp_path / "missing.bin", "x.bin")
        with pytest.raises(InvalidArgument, match="folder"):
            store.put_file(tmp_path, "x.bin")
        with pytest.raises(InvalidArgument, match="bytes"):
            store.put_bytes("text, not bytes", "x.bin")  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument, match="binary stream"):
            store.put_stream(io.StringIO("text"), "x.bin")  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument, match="empty"):
            store.put_bytes(b"x", "")
        assert store.list() == []

    @pytest.mark.parametrize("path", _UNSAFE)
    def test_unsafe_paths_are_refused_everywhere(
        self, store_at: StoreAt, store: ArtifactStore, tmp_path: Path, path: str
    ) -> None:
        """Every method refuses every traversal pattern; nothing lands outside the root."""
        (source := tmp_path / "source.txt").write_bytes(b"attacker")
        store.put_bytes(b"legit", "legit.txt")
        attempts: list[Callable[[], object]] = [
            lambda: store.put_bytes(b"attacker", path),
            lambda: store.put_file(source, path),
            lambda: store.put_stream(io.BytesIO(b"attacker"), path),
            lambda: store.open(path),
            lambda: store.get_bytes(path),
            lambda: store.get_file(path, tmp_path / "dest"),
            lambda: store.exists(path),
            lambda: store.info(path),
            lambda: store.delete(path),
            lambda: store.move("legit.txt", path),
            lambda: store.move(path, "moved.txt"),
            lambda: store.uri_for(path),
            lambda: store.list(path),
        ]
        for attempt in attempts:
            with pytest.raises(UnsafePath, match="refused"):
                attempt()
        assert _paths(store_at("").list()) == ["root/legit.txt"]
        assert store.get_bytes("legit.txt") == b"legit"
        assert not (tmp_path / "dest").exists()
        assert _files_containing(tmp_path, b"attacker") == [source]

    # -- listing and deleting -----------------------------------------------------------

    def test_list_is_recursive_sorted_and_folder_scoped(self, store: ArtifactStore) -> None:
        """Listing is recursive, sorted, and scoped to folders, not string prefixes."""
        for path in ["z.txt", "a/c/d.txt", "ab/e.txt", "a/b.txt", "a/c/a.txt"]:
            store.put_bytes(path.encode(), path)
        assert _paths(store.list()) == ["a/b.txt", "a/c/a.txt", "a/c/d.txt", "ab/e.txt", "z.txt"]
        assert _paths(store.list("a")) == ["a/b.txt", "a/c/a.txt", "a/c/d.txt"]
        assert store.list("a/") == store.list("a")
        assert store.list("a/c/d.txt") == [ArtifactInfo("a/c/d.txt", 9)]
        assert store.list("nothing/here") == []
        assert [i.size for i in store.list("ab")] == [8]

    def test_delete_file_and_folder(self, store: ArtifactStore) -> None:
        """Delete removes a file or a folder of files and says how many."""
        for path in ["run/a.txt", "run/sub/b.txt", "run2/c.txt", "top.txt"]:
            store.put_bytes(b"x", path)
        assert store.delete("top.txt") == 1
        assert not store.exists("top.txt")
        assert store.delete("run") == 2
        assert _paths(store.list()) == ["run2/c.txt"]
        with pytest.raises(NotFound):
            store.delete("run")
        assert store.delete("run", missing_ok=True) == 0
        with pytest.raises(InvalidArgument):
            store.delete("")
        assert _paths(store.list()) == ["run2/c.txt"]
        store.put_bytes(b"again", "run/a.txt")  # a deleted folder can be written again
        assert store.get_bytes("run/a.txt") == b"again"

    # -- atomicity ----------------------------------------------------------------------

    @pytest.mark.parametrize("good_mib", [0, 3, 20], ids=["at-once", "small", "multipart"])
    def test_a_write_that_fails_midway_leaves_nothing(
        self, store_at: StoreAt, store: ArtifactStore, good_mib: int
    ) -> None:
        """A producer that dies midway leaves no file and keeps the old version."""
        with pytest.raises(_WriterCrashed):
            store.put_stream(_failing_stream(good_mib * _MIB), "checkpoints/new.pt")
        assert not store.exists("checkpoints/new.pt")
        assert store_at("").list() == []

        store.put_bytes(b"v1" * 1000, "checkpoints/last.pt")
        with pytest.raises(_WriterCrashed):
            store.put_stream(_failing_stream(good_mib * _MIB), "checkpoints/last.pt")
        assert store.get_bytes("checkpoints/last.pt") == b"v1" * 1000
        assert _paths(store_at("").list()) == ["root/checkpoints/last.pt"]

    def test_readers_never_see_a_half_written_file(self, store: ArtifactStore) -> None:
        """While a write is in flight, readers see the old file (or none), whole."""
        old = b"a" * (3 * _MIB)
        new_chunks = [b"b" * _MIB] * 3
        store.put_bytes(old, "model.bin")
        midway, resume = threading.Event(), threading.Event()

        def gated() -> Iterator[bytes]:
            yield from new_chunks[:2]
            midway.set()  # two of three chunks handed over: the write is half done
            resume.wait()
            yield new_chunks[2]

        def write() -> None:
            store.put_stream(_stream(gated()), "model.bin")
            store.put_stream(_stream(gated()), "fresh.bin")

        with ThreadPoolExecutor(1) as pool:
            writer = pool.submit(write)
            try:
                assert midway.wait(timeout=120)
                assert store.get_bytes("model.bin") == old
                assert store.list("model.bin") == [ArtifactInfo("model.bin", len(old))]
                midway.clear()
                resume.set()
                resume.clear()
                assert midway.wait(timeout=120)
                assert not store.exists("fresh.bin")
                assert store.list("fresh.bin") == []
            finally:
                resume.set()
        writer.result()  # the writer itself succeeded
        assert store.get_bytes("model.bin") == b"".join(new_chunks)
        assert store.get_bytes("fresh.bin") == b"".join(new_chunks)

    def test_concurrent_writers_of_one_path_leave_one_whole_version(
        self, store: ArtifactStore
    ) -> None:
        """Racing writers of one path leave exactly one of their versions."""
        versions = [bytes([65 + i]) * (2 * _MIB + i) for i in range(4)]
        with ThreadPoolExecutor(len(versions)) as pool:
            list(pool.map(lambda data: store.put_bytes(data, "shared.bin"), versions))
        assert store.get_bytes("shared.bin") in versions
        assert _paths(store.list()) == ["shared.bin"]

    # -- streaming ----------------------------------------------------------------------

    def test_a_large_file_streams_through_bounded_memory(
        self, store: ArtifactStore, tmp_path: Path
    ) -> None:
        """A 200 MB file goes in and out with far less memory than its size."""
        source = tmp_path / "big.bin"
        digest = _write_large_file(source, LARGE_FILE_BYTES)

        info, put_peak = _peak_memory(lambda: store.put_file(source, "data/big.bin"))
        assert info.size == store.info("data/big.bin").size == LARGE_FILE_BYTES

        def read_back() -> str:
            with store.open("data/big.bin") as stream:
                return _sha256_of_stream(stream)

        read_digest, read_peak = _peak_memory(read_back)
        assert read_digest == digest
        source.unlink()
        _, get_peak = _peak_memory(lambda: store.get_file("data/big.bin", tmp_path / "copy.bin"))
        assert _sha256_of_file(tmp_path / "copy.bin") == digest
        assert max(put_peak, read_peak, get_peak) < MEMORY_BOUND_BYTES, (
            f"peaks: put {put_peak}, open {read_peak}, get_file {get_peak} bytes"
        )
        store.delete("data")


class ContentAddressedStoreSuite(_BackendSuite):
    """The contract of :class:`~runyard.artifacts.cas.ContentAddressedStore` on a backend."""

    @pytest.fixture
    def backend(self, store_at: StoreAt) -> ArtifactStore:
        """The wrapped store."""
        return store_at("root")

    @pytest.fixture
    def cas(self, backend: ArtifactStore) -> ContentAddressedStore:
        """The content-addressed store under test."""
        return ContentAddressedStore(backend)

    def test_put_bytes_returns_a_ref_to_its_blob(
        self, cas: ContentAddressedStore, backend: ArtifactStore
    ) -> None:
        """A ref names the logical path, the SHA-256, the size and the blob URI."""
        data = b'{"lr": 0.001}'
        hexdigest = hashlib.sha256(data).hexdigest()
        ref = cas.put_bytes(data, "config/params.json")
        blob = f"blobs/sha256/{hexdigest[:2]}/{hexdigest[2:]}"
        uri = f"{backend.uri}/{blob}"
        assert ref == ArtifactRef("config/params.json", f"sha256:{hexdigest}", len(data), uri)
        assert _paths(backend.list("blobs")) == [blob]
        assert cas.has(ref.digest) and cas.has(ref)
        assert cas.get_bytes(ref.digest) == data
        with cas.open(ref) as stream:
            assert stream.read() == data

    def test_same_content_is_stored_once(
        self, cas: ContentAddressedStore, backend: ArtifactStore, tmp_path: Path
    ) -> None:
        """The same content under four paths and three methods is one blob."""
        (weights := tmp_path / "weights.bin").write_bytes(b"w" * 100_000)
        refs = [
            cas.put_bytes(b"w" * 100_000, "run1/weights.bin"),
            cas.put_file(weights, "run2/weights.bin"),
            cas.put_stream(io.BytesIO(b"w" * 100_000), "run3/weights.bin"),
            cas.put_file(weights, "run4/model/weights.bin"),
        ]
        assert len({(r.digest, r.uri, r.size) for r in refs}) == 1
        assert [r.path.split("/")[0] for r in refs] == ["run1", "run2", "run3", "run4"]
        assert _paths(backend.list()) == _paths(backend.list("blobs"))  # no temp blobs left
        assert len(_paths(backend.list("blobs"))) == 1
        cas.put_bytes(b"other", "run5/weights.bin")
        assert len(_paths(backend.list("blobs"))) == 2

    def test_put_dir_keeps_relative_paths(self, cas: ContentAddressedStore, tmp_path: Path) -> None:
        """A folder uploads whole, relative paths kept, and downloads back."""
        tree = tmp_path / "outputs"
        (tree / "plots").mkdir(parents=True)
        (tree / "metrics.json").write_text('{"acc": 0.9}')
        (tree / "plots" / "loss.png").write_bytes(b"\x89PNG")
        (tree / "plots" / "copy.png").symlink_to(tree / "plots" / "loss.png")  # stays inside
        refs = cas.put_dir(tree, prefix="run-7")
        names = ["metrics.json", "plots/copy.png", "plots/loss.png"]
        assert [r.path for r in refs] == [f"run-7/{name}" for name in names]
        assert refs[1].digest == refs[2].digest
        restored = tmp_path / "restored"
        restored.mkdir()
        for ref in refs:
            cas.download(ref, restored)
        assert (restored / "run-7" / "metrics.json").read_text() == '{"acc": 0.9}'
        assert (restored / "run-7" / "plots" / "copy.png").read_bytes() == b"\x89PNG"
        assert cas.put_dir(tree, prefix="run-7") == refs  # again: same refs, nothing new
        assert len(_paths(cas.backend.list())) == 2

    def test_put_dir_refuses_symlinks_out_and_writes_nothing(
        self, cas: ContentAddressedStore, backend: ArtifactStore, tmp_path: Path
    ) -> None:
        """A symlink out of the folder refuses the upload before any write."""
        (secret := tmp_path / "secret.txt").write_text("api-key")
        tree = tmp_path / "outputs"
        tree.mkdir()
        (tree / "a.txt").write_text("a")
        (tree / "leak.txt").symlink_to(secret)
        with pytest.raises(UnsafePath, match="outside"):
            cas.put_dir(tree)
        (tree / "leak.txt").unlink()
        (tree / "leak").symlink_to(tmp_path, target_is_directory=True)
        with pytest.raises(UnsafePath, match="outside"):
            cas.put_dir(tree)
        assert backend.list() == []
        with pytest.raises(InvalidArgument, match="not a folder"):
            cas.put_dir(tmp_path / "missing")

    def test_downloads_are_verified(
        self, cas: ContentAddressedStore, backend: ArtifactStore, tmp_path: Path
    ) -> None:
        """A corrupt blob or a wrong size is caught on download; the destination is untouched."""
        ref = cas.put_bytes(b"genuine model", "model.bin")
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        dest = downloads / "model.bin"
        assert cas.download(ref, dest) == dest
        assert dest.read_bytes() == b"genuine model"

        backend.put_bytes(b"tampered model", cas.blob_path(ref))  # the blob rots
        dest.write_bytes(b"previous download")
        with pytest.raises(StoreError, match="corrupt"):
            cas.download(ref, dest)
        assert dest.read_bytes() == b"previous download"
        with pytest.raises(StoreError, match="corrupt"):
            cas.download(ref, downloads / "fresh.bin")
        assert os.listdir(downloads) == ["model.bin"]  # no temp file left either
        with pytest.raises(StoreError, match="corrupt"):
            cas.get_bytes(ref.digest)
        five = cas.put_bytes(b"12345", "five.txt")
        with pytest.raises(StoreError, match="corrupt"):  # a ref whose size is wrong
            cas.download(ArtifactRef(five.path, five.digest, 4, five.uri), downloads / "5.txt")
        assert os.listdir(downloads) == ["model.bin"]

    @pytest.mark.parametrize("path", _UNSAFE)
    def test_unsafe_paths_are_refused(
        self, cas: ContentAddressedStore, store_at: StoreAt, tmp_path: Path, path: str
    ) -> None:
        """Unsafe logical paths are refused on upload, and in refs on download."""
        (source := tmp_path / "source.txt").write_bytes(b"attacker")
        attempts: list[Callable[[], object]] = [
            lambda: cas.put_bytes(b"attacker", path),
            lambda: cas.put_file(source, path),
            lambda: cas.put_stream(io.BytesIO(b"attacker"), path),
        ]
        for attempt in attempts:
            with pytest.raises(UnsafePath):
                attempt()
        assert store_at("").list() == []

        good = cas.put_bytes(b"payload", "ok.txt")
        evil = ArtifactRef(path, good.digest, good.size, good.uri)
        dest = tmp_path / "downloads"
        dest.mkdir()
        with pytest.raises(UnsafePath):
            cas.download(evil, dest)
        assert os.listdir(dest) == []
        assert _files_containing(tmp_path, b"attacker") == [source]

    def test_unknown_and_malformed_digests(self, cas: ContentAddressedStore) -> None:
        """Unknown digests are NotFound; malformed ones InvalidArgument."""
        unknown = "sha256:" + "0" * 64
        assert not cas.has(unknown)
        with pytest.raises(NotFound, match="no blob"):
            cas.open(unknown)
        with pytest.raises(NotFound):
            cas.get_bytes(unknown)
        for bad in ["", "md5:abc", "sha256:xyz", "sha256:" + "0" * 63, "0" * 64, "sha256:../x"]:
            with pytest.raises(InvalidArgument, match="not a digest"):
                cas.has(bad)

    def test_a_failed_stream_leaves_no_blob(
        self, cas: ContentAddressedStore, store_at: StoreAt
    ) -> None:
        """A producer that dies midway leaves no blob and no temp blob."""
        for good_mib in (0, 3, 20):
            with pytest.raises(_WriterCrashed):
                cas.put_stream(_failing_stream(good_mib * _MIB), "checkpoint.pt")
        assert store_at("").list() == []

    def test_a_large_file_is_hashed_and_stored_with_bounded_memory(
        self, cas: ContentAddressedStore, backend: ArtifactStore, tmp_path: Path
    ) -> None:
        """A 200 MB file is hashed, stored and verified in bounded memory."""
        source = tmp_path / "dataset.bin"
        digest = _write_large_file(source, LARGE_FILE_BYTES)
        ref, put_peak = _peak_memory(lambda: cas.put_file(source, "data/dataset.bin"))
        assert (ref.digest, ref.size) == (f"sha256:{digest}", LARGE_FILE_BYTES)
        source.unlink()
        _, get_peak = _peak_memory(lambda: cas.download(ref, tmp_path / "restored.bin"))
        assert _sha256_of_file(tmp_path / "restored.bin") == digest
        assert max(put_peak, get_peak) < MEMORY_BOUND_BYTES, (
            f"peaks: put_file {put_peak}, download {get_peak} bytes"
        )
        backend.delete("blobs")
