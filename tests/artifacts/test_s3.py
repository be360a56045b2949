"""What only an object store can show: endpoints, multipart cleanup, error translation.

All against the moto S3 server process started by ``conftest.py``.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable

import pytest

from runyard.artifacts import ArtifactStore, FsspecArtifactStore, get_artifact_store, open_cas
from runyard.errors import (
    InvalidArgument,
    MissingDependency,
    NotFound,
    StoreError,
    StoreUnavailable,
)

StoreAt = Callable[..., ArtifactStore]


def _pending_uploads(store: ArtifactStore, bucket: str) -> list[object]:
    fs = store.filesystem  # type: ignore[attr-defined]
    listed = fs.call_s3("list_multipart_uploads", Bucket=bucket)
    return list(listed.get("Uploads", []))


def test_aws_endpoint_url_is_honoured(s3_area: str) -> None:
    store = get_artifact_store(f"{s3_area}/env")
    assert isinstance(store, FsspecArtifactStore)
    store.put_bytes(b"via env", "x.txt")
    assert store.get_bytes("x.txt") == b"via env"


def test_an_explicit_endpoint_wins_over_the_environment(
    s3_area: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    store = FsspecArtifactStore(f"{s3_area}/explicit", endpoint_url=s3_endpoint)
    store.put_bytes(b"explicit", "x.txt")
    assert open_cas(f"{s3_area}/explicit", endpoint_url=s3_endpoint).backend.list() == [
        store.info("x.txt")
    ]


def test_an_aborted_multipart_upload_leaves_no_parts(s3_store_at: StoreAt, s3_bucket: str) -> None:
    store = s3_store_at("root")

    def chunks() -> io.BufferedReader:
        class Dies(io.RawIOBase):
            sent = 0

            def readable(self) -> bool:
                return True

            def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
                if self.sent >= 20 * 1024 * 1024:
                    raise ConnectionResetError("producer went away")
                n = len(buffer)
                buffer[:n] = b"z" * n
                self.sent += n
                return n

        return io.BufferedReader(Dies())

    with pytest.raises(ConnectionResetError):
        store.put_stream(chunks(), "big/ckpt.pt")
    assert not store.exists("big/ckpt.pt")
    assert _pending_uploads(store, s3_bucket) == []


def test_a_missing_bucket_is_a_store_error(aws_env: str) -> None:
    store = FsspecArtifactStore("s3://no-such-bucket-here/prefix")
    with pytest.raises(StoreError, match="does not exist"):
        store.put_bytes(b"x", "x.txt")
    with pytest.raises(NotFound):
        store.get_bytes("x.txt")


def test_an_unreachable_server_is_store_unavailable(aws_env: str, s3_area: str) -> None:
    store = FsspecArtifactStore(
        s3_area,
        endpoint_url="http://127.0.0.1:9",  # the discard port: nothing listens
        config_kwargs={"retries": {"max_attempts": 1}},
        skip_instance_cache=True,
    )
    with pytest.raises(StoreUnavailable, match="cannot"):
        store.put_bytes(b"x", "x.txt")
    with pytest.raises(StoreUnavailable):
        store.exists("x.txt")


def test_bad_uris_are_invalid(aws_env: str) -> None:
    for uri in ["s3://", "s3:///prefix", "s3://bucket/../x", "s3://bucket/p?versionId=1"]:
        with pytest.raises(InvalidArgument):
            FsspecArtifactStore(uri)


def test_a_missing_s3fs_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real package is installed here; hiding it from the import system is the only way
    # to show what a user without the extra sees.
    monkeypatch.setitem(sys.modules, "s3fs", None)
    with pytest.raises(MissingDependency, match=r"runyard\[s3\]"):
        get_artifact_store("s3://bucket/prefix")


def test_a_reader_never_mixes_two_versions(s3_store_at: StoreAt) -> None:
    store = s3_store_at("root")
    store.put_bytes(b"a" * (24 * 1024 * 1024), "model.bin")
    with store.open("model.bin") as stream:
        assert stream.read(1024 * 1024) == b"a" * (1024 * 1024)
        store.put_bytes(b"b" * (24 * 1024 * 1024), "model.bin")  # replaced mid-read
        with pytest.raises(StoreError, match="replaced while it was read"):
            stream.read()
    assert store.get_bytes("model.bin") == b"b" * (24 * 1024 * 1024)
