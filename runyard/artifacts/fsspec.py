"""An artifact store on object storage (S3 and S3-compatible servers, Google Cloud Storage).

Built on fsspec's ``s3fs`` and ``gcsfs``, imported only when a store is created; a missing
package raises :class:`~runyard.errors.MissingDependency` naming the extra to install.

Atomicity comes from the object store itself: an object becomes visible only when its single
PUT or its multipart upload completes. Uploads are streamed in parts of :data:`PART_SIZE`
(the most this module holds in memory per upload); a write that fails midway aborts the
multipart upload, so nothing — not even an orphaned part — is left behind. Reads are ranged
GETs pinned to the object's ETag, so a reader whose object is replaced mid-read gets a
:class:`~runyard.errors.StoreError` instead of a mix of two versions.

Foreign errors (``FileNotFoundError``, botocore and aiohttp errors, credential errors) are
translated in one place, :func:`_translate`: connection failures, timeouts, throttling and
5xx become :class:`~runyard.errors.StoreUnavailable`; the rest :class:`~runyard.errors.StoreError`.

Example:
    >>> from runyard.artifacts.fsspec import FsspecArtifactStore
    >>> store = FsspecArtifactStore(  # doctest: +SKIP
    ...     "s3://ml-artifacts/team-a", endpoint_url="http://127.0.0.1:9000"
    ... )
    >>> store.put_bytes(b"0.93", "metrics/accuracy.txt")  # doctest: +SKIP
    ArtifactInfo(path='metrics/accuracy.txt', size=4)
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import os
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from runyard.artifacts._streams import CHUNK_SIZE, iter_chunks
from runyard.artifacts.base import ArtifactInfo, ArtifactStore
from runyard.artifacts.paths import check_path, check_prefix
from runyard.errors import (
    InvalidArgument,
    MissingDependency,
    NotFound,
    RunyardError,
    StoreError,
    StoreUnavailable,
)

__all__ = ["PART_SIZE", "SCHEMES", "FsspecArtifactStore"]

PART_SIZE = 8 * 1024 * 1024
"""Bytes per multipart part on upload and per ranged GET on read (S3's minimum part is 5 MiB)."""

SCHEMES = {"s3": "s3", "s3a": "s3", "gs": "gs", "gcs": "gs"}
"""URI schemes this store accepts, and the protocol each maps to."""

_PACKAGES = {"s3": ("s3fs", "S3FileSystem", "s3"), "gs": ("gcsfs", "GCSFileSystem", "gcs")}
_ENDPOINT_ENV = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
_TRANSIENT_NAMES = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ClientConnectorError",
        "ClientOSError",
        "ServerDisconnectedError",
        "ServerTimeoutError",
        "TimeoutError",
        "ConnectionError",
    }
)
_TRANSIENT_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "ServiceUnavailable"}
)


class FsspecArtifactStore(ArtifactStore):
    """Files under an object-store prefix: ``s3://bucket/prefix`` or ``gs://bucket/prefix``.

    Args:
        uri: ``s3://bucket[/prefix]`` (also ``s3a://``) or ``gs://bucket[/prefix]`` (``gcs://``).
        **storage_options: passed to ``s3fs.S3FileSystem`` / ``gcsfs.GCSFileSystem``
            (``key``, ``secret``, ``token``, ``client_kwargs``, …). For S3, ``endpoint_url``
            defaults to ``$AWS_ENDPOINT_URL_S3`` or ``$AWS_ENDPOINT_URL`` (MinIO, Ceph, R2 and
            other S3-compatible servers). The listing cache is off unless asked for, so that
            writes by other processes are seen at once.

    Raises:
        InvalidArgument: the URI has another scheme, no bucket, or an unsafe prefix.
        MissingDependency: ``s3fs`` (extra ``s3``) or ``gcsfs`` (extra ``gcs``) is missing.

    Example:
        >>> store = FsspecArtifactStore("s3://ml-artifacts/team-a")  # doctest: +SKIP
        >>> store.uri  # doctest: +SKIP
        's3://ml-artifacts/team-a'
    """

    def __init__(self, uri: str, **storage_options: Any) -> None:
        scheme, bucket, prefix = _parse_uri(uri)
        self._scheme = scheme
        self._bucket = bucket
        self._base = f"{bucket}/{prefix}" if prefix else bucket
        self._fs = _filesystem(SCHEMES[scheme], dict(storage_options))

    def __repr__(self) -> str:
        return f"FsspecArtifactStore({self.uri!r})"

    @property
    def uri(self) -> str:
        """``<scheme>://bucket/prefix`` of the store's root."""
        return f"{self._scheme}://{self._base}"

    @property
    def filesystem(self) -> Any:
        """The underlying fsspec filesystem (for tests and diagnostics)."""
        return self._fs

    # -- writes -------------------------------------------------------------------------

    def put_stream(self, fileobj: BinaryIO, path: str) -> ArtifactInfo:
        """Upload ``fileobj`` to ``path`` in parts; visible only once complete."""
        full = self._full(path)
        with self._boundary("write", path, missing=self._no_bucket):
            remote = self._fs.open(full, "wb", block_size=PART_SIZE)
        size = 0
        try:
            for chunk in iter_chunks(fileobj):
                with self._boundary("write", path, missing=self._no_bucket):
                    remote.write(chunk)
                size += len(chunk)
                _grow_parts(remote)
            with self._boundary("write", path, missing=self._no_bucket):
                remote.close()
        except BaseException:
            _abandon(remote)
            raise
        return ArtifactInfo(path, size)

    def move(self, src: str, dst: str) -> ArtifactInfo:
        """Server-side copy ``src`` to ``dst``, then delete ``src``."""
        info = self.info(src)
        with self._boundary("move", src):
            self._fs.mv(self._full(src), self._full(dst))
        return ArtifactInfo(dst, info.size)

    # -- reads --------------------------------------------------------------------------

    def open(self, path: str) -> BinaryIO:
        """Open the object for streamed ranged reads; see the base class."""
        full = self._full(path)
        with self._boundary("read", path):
            # No size given: s3fs then pins every ranged GET to the ETag it saw (If-Match).
            remote = self._fs.open(full, "rb", block_size=PART_SIZE, cache_type="readahead")
            if remote.details.get("type") != "file":
                remote.close()
                raise NotFound(f"no artifact at {path!r} in {self.uri} (it is a folder)")
        translate = functools.partial(self._boundary, "read", path)
        return io.BufferedReader(_TranslatingReader(remote, translate), buffer_size=CHUNK_SIZE)

    def exists(self, path: str) -> bool:
        """True when an object is stored at exactly ``path``."""
        full = self._full(path)
        with self._boundary("check", path):
            try:  # not fs.isfile(): it answers False when the server is unreachable
                details = self._fs.info(full)
            except FileNotFoundError:
                return False
        return bool(details.get("type") == "file")

    def info(self, path: str) -> ArtifactInfo:
        """The size of the object at ``path``; see the base class."""
        full = self._full(path)
        with self._boundary("stat", path):
            details = self._fs.info(full)
        if details.get("type") != "file":
            raise NotFound(f"no artifact at {path!r} in {self.uri} (it is a folder)")
        return ArtifactInfo(path, int(details["size"]))

    def list(self, prefix: str = "") -> list[ArtifactInfo]:
        """Every object at or under ``prefix``, sorted; one listing request (paged)."""
        logical = check_prefix(prefix)
        if logical == "":
            folder, name = self._base, ""
        else:
            parent, _, name = logical.rpartition("/")
            folder = f"{self._base}/{parent}" if parent else self._base
        with self._boundary("list", prefix, missing=self._no_bucket):
            found = (
                self._fs.find(folder, prefix=name, detail=True)
                if name
                else self._fs.find(folder, detail=True)
            )
        start = len(self._base) + 1
        infos = [
            ArtifactInfo(key[start:], int(details["size"]))
            for key, details in found.items()
            if details.get("type") == "file" and not key.endswith("/") and key.startswith(folder)
        ]
        if logical:
            infos = [i for i in infos if i.path == logical or i.path.startswith(logical + "/")]
        infos.sort(key=lambda i: i.path)
        return infos

    # -- deletes ------------------------------------------------------------------------

    def delete(self, path: str, *, missing_ok: bool = False) -> int:
        """Delete an object or every object under a folder (batched deletes)."""
        logical = check_prefix(path)
        if logical == "":
            raise InvalidArgument("refusing to delete the whole store; name a path")
        files = self.list(logical)
        if not files:
            if missing_ok:
                return 0
            raise NotFound(f"no artifact at or under {path!r} in {self.uri}")
        with self._boundary("delete", path):
            self._fs.rm([self._full(i.path) for i in files])
        return len(files)

    # -- boundary -----------------------------------------------------------------------

    def _full(self, path: str) -> str:
        """The object key (with bucket) of a checked logical path."""
        return f"{self._base}/{check_path(path)}"

    def _no_bucket(self) -> RunyardError:
        return StoreError(f"the bucket {self._bucket!r} of {self.uri} does not exist")

    @contextlib.contextmanager
    def _boundary(
        self, action: str, path: str, missing: Callable[[], RunyardError] | None = None
    ) -> Iterator[None]:
        """Translate foreign errors raised inside the block into the runyard tree."""
        try:
            yield
        except RunyardError:
            raise
        except FileNotFoundError as e:
            error = missing() if missing else NotFound(f"no artifact at {path!r} in {self.uri}")
            raise error from e
        except Exception as e:
            raise _translate(e, f"cannot {action} {path!r} in {self.uri}") from e


class _TranslatingReader(io.RawIOBase):
    """A raw binary reader over a remote file that translates errors raised while reading."""

    def __init__(
        self, remote: Any, boundary: Callable[[], contextlib.AbstractContextManager[None]]
    ) -> None:
        super().__init__()
        self._remote = remote
        self._boundary = boundary

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        with self._boundary():
            data = self._remote.read(len(view))
        view[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        with self._boundary():
            return int(self._remote.seek(offset, whence))

    def tell(self) -> int:
        return int(self._remote.tell())

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(Exception):
                self._remote.close()
        super().close()


def _translate(error: Exception, headline: str) -> StoreError:
    """Map a foreign error to StoreUnavailable (transient) or StoreError (anything else)."""
    names = {cls.__name__ for cls in type(error).__mro__}
    response = getattr(error, "response", None)
    code = ""
    status = 0
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if "FileExpired" in names:
        return StoreError(f"{headline}: the object was replaced while it was read; open it again")
    if names & {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"}:
        return StoreError(f"{headline}: no usable credentials ({error})")
    if isinstance(error, PermissionError) or code in {"AccessDenied", "InvalidAccessKeyId"}:
        return StoreError(f"{headline}: access denied ({error})")
    if names & _TRANSIENT_NAMES or code in _TRANSIENT_CODES or status >= 500:
        return StoreUnavailable(f"{headline}: {type(error).__name__}: {error}")
    return StoreError(f"{headline}: {type(error).__name__}: {error}")


def _grow_parts(remote: Any) -> None:
    """Grow the part size by :data:`PART_SIZE` every 1,000 parts.

    S3 allows 10,000 parts per upload: fixed 8 MiB parts would cap a streamed object at
    78 GiB; growing them lifts the cap to about 430 GiB while small files keep small parts.
    """
    parts = getattr(remote, "parts", None)
    if isinstance(parts, list):
        remote.blocksize = PART_SIZE * (1 + len(parts) // 1000)


def _abandon(remote: Any) -> None:
    """Throw away an unfinished upload: abort the multipart upload, never commit it."""
    with contextlib.suppress(Exception):
        remote.discard()
    with contextlib.suppress(Exception):
        remote.closed = True  # so that fsspec's __del__ does not commit the partial buffer


def _parse_uri(uri: str) -> tuple[str, str, str]:
    """Split ``s3://bucket/prefix`` into (scheme, bucket, prefix), refusing bad ones."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise InvalidArgument(f"not an object-store URI: {uri!r} (expected s3:// or gs://)")
    if not parts.netloc:
        raise InvalidArgument(f"the URI {uri!r} names no bucket")
    if parts.query or parts.fragment:
        raise InvalidArgument(f"the URI {uri!r} must not carry a query or fragment")
    return scheme, parts.netloc, check_prefix(parts.path.lstrip("/"))


def _filesystem(protocol: str, options: dict[str, Any]) -> Any:
    """Create the fsspec filesystem for ``protocol``, importing its package lazily."""
    module_name, class_name, extra = _PACKAGES[protocol]
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise MissingDependency(module_name, extra=extra) from e
    if protocol == "s3" and not options.get("endpoint_url"):
        endpoint = next((os.environ[v] for v in _ENDPOINT_ENV if os.environ.get(v)), None)
        if endpoint:
            options["endpoint_url"] = endpoint
    options.setdefault("use_listings_cache", False)
    try:
        return getattr(module, class_name)(**options)
    except TypeError as e:
        raise InvalidArgument(f"bad storage options for {module_name}: {e}") from e
    except Exception as e:
        raise _translate(e, f"cannot connect to {protocol}") from e
