"""An artifact store behind a runyard server's artifact proxy (``/api/v1/artifacts``).

``get_artifact_store("http://host:5000")`` — or ``ry.Client`` with
``RUNYARD_TRACKING_URI=http://host:5000`` and no artifact URI of its own — returns an
:class:`HttpArtifactStore`: files go to the *server's* artifact store (a local folder or S3
on the server side), so every client of one server shares one artifact root.

* **Streaming.** Uploads are sent as a chunked request body read from the source in
  :data:`~runyard.artifacts.base.CHUNK_SIZE` pieces; downloads are read from the response
  as they arrive. Neither holds a whole file in memory.
* **Atomicity** is the server's: it writes an upload through its store's atomic
  ``put_stream``, and a request that breaks off midway (the source raised, the connection
  died) leaves the path as it was.
* **Retries.** Connection errors and 5xx answers are retried with exponential backoff and
  jitter for up to ``max_retry_s`` seconds. An upload from a local file or from bytes is
  retried whole; an upload from a caller's stream only while nothing of it was sent.
* **Errors** are translated in one place (:func:`_error_from`, :func:`_unreachable`):
  the server's ``NOT_FOUND`` / ``UNSAFE_PATH`` / ``INVALID_ARGUMENT`` answers become the same
  :mod:`runyard.errors` the server's store raised; transport failures and 5xx become
  :class:`~runyard.errors.StoreUnavailable`. Paths are checked here too, so an unsafe path
  is refused before any request is made.

A URI names the server, optionally followed by ``/api/v1/artifacts/<folder>`` to root the
store at a folder of the server's store.
"""

from __future__ import annotations

import io
import os
import random
import time
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, TypeVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx

from runyard.artifacts._streams import CHUNK_SIZE, iter_chunks, open_local_source
from runyard.artifacts.base import ArtifactInfo, ArtifactStore
from runyard.artifacts.paths import check_path, check_prefix
from runyard.errors import (
    InvalidArgument,
    NotFound,
    RunyardError,
    StoreError,
    StoreUnavailable,
    UnsafePath,
)

__all__ = ["API_PREFIX", "MOVES_PATH", "TOKEN_ENV", "HttpArtifactStore"]

API_PREFIX = "/api/v1/artifacts"
"""Where a runyard server serves its artifact proxy."""

MOVES_PATH = "/api/v1/artifact-moves"
"""Where a runyard server moves files inside its artifact store."""

TOKEN_ENV = "RUNYARD_TRACKING_TOKEN"
"""The bearer token, when none is given (the same variable the REST tracking store reads)."""

_T = TypeVar("_T")
_CODES: dict[str, type[RunyardError]] = {
    "NOT_FOUND": NotFound,
    "UNSAFE_PATH": UnsafePath,
    "INVALID_ARGUMENT": InvalidArgument,
    "STORE_UNAVAILABLE": StoreUnavailable,
}
_STATUSES: dict[int, type[RunyardError]] = {
    400: InvalidArgument,
    404: NotFound,
    413: InvalidArgument,
    422: InvalidArgument,
    503: StoreUnavailable,
}


def _error_from(response: httpx.Response, what: str) -> RunyardError:
    """The runyard error for an error answer of the server (the one translation boundary)."""
    try:
        err = response.json()["error"]
        code, message = str(err["code"]), str(err["message"])
    except (ValueError, KeyError, TypeError, httpx.ResponseNotRead):
        code, message = "", f"{what}: HTTP {response.status_code} {response.reason_phrase}"
    if code in ("UNAUTHENTICATED", "PERMISSION_DENIED") or response.status_code in (401, 403):
        return StoreError(f"{what}: the server refused the token ({code or response.status_code})")
    kind = _CODES.get(code) or _STATUSES.get(response.status_code)
    if kind is None:
        kind = StoreUnavailable if _retryable(response.status_code) else StoreError
    return kind(message)


def _unreachable(e: httpx.HTTPError, base: str, what: str) -> StoreUnavailable:
    """The runyard error for a transport failure."""
    return StoreUnavailable(f"{what}: connection to {base} failed: {e}")


def _retryable(status: int) -> bool:
    return status >= 500 and status != 501


class _ResponseReader(io.RawIOBase):
    """A raw binary stream over a streamed response body; closing it closes the response."""

    def __init__(self, response: httpx.Response, what: str) -> None:
        super().__init__()
        self._response = response
        self._chunks = response.iter_bytes(CHUNK_SIZE)
        self._what = what
        self._pending = b""
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._pos >= len(self._pending):
            try:
                self._pending = next(self._chunks, b"")
            except httpx.HTTPError as e:
                raise StoreError(f"{self._what}: the download broke off: {e}") from e
            self._pos = 0
        n = min(len(buffer), len(self._pending) - self._pos)
        memoryview(buffer).cast("B")[:n] = self._pending[self._pos : self._pos + n]
        self._pos += n
        return n

    def close(self) -> None:
        if not self.closed:
            self._response.close()
        super().close()


class HttpArtifactStore(ArtifactStore):
    """The artifact store of a runyard server, through its streamed artifact proxy.

    Args:
        base_url: the server (``http://host:5000``), optionally followed by
            ``/api/v1/artifacts/<folder>`` to root the store at that folder.
        token: a bearer token; else ``$RUNYARD_TRACKING_TOKEN``; else none.
        timeout_s: per-request timeout (between bytes, not for a whole transfer).
        max_retry_s: how long to keep retrying connection errors and 5xx answers.
        client: an ``httpx.Client`` to use instead of a new one (custom TLS, tests).

    Raises:
        InvalidArgument: the URL is not ``http(s)://host[:port]...``.

    Example:
        >>> store = HttpArtifactStore("http://127.0.0.1:5000")  # doctest: +SKIP
        >>> store.put_file("model.onnx", "runs/7/model.onnx")  # doctest: +SKIP
        ArtifactInfo(path='runs/7/model.onnx', size=1048576)
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout_s: float = 60.0,
        max_retry_s: float = 60.0,
        client: httpx.Client | None = None,
    ) -> None:
        self._server, self._root = _split_url(base_url)
        token = token or os.environ.get(TOKEN_ENV)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = client or httpx.Client(
            base_url=self._server,
            timeout=timeout_s,
            headers=headers,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
        )
        if client is not None and headers:
            self._client.headers.update(headers)
        self._max_retry_s = max_retry_s

    def __repr__(self) -> str:
        return f"HttpArtifactStore({self.uri!r})"

    @property
    def uri(self) -> str:
        """``http(s)://host:port/api/v1/artifacts[/<folder>]``."""
        return f"{self._server}{API_PREFIX}" + (f"/{self._root}" if self._root else "")

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    # -- plumbing -------------------------------------------------------------------------

    def _full(self, path: str) -> str:
        return f"{self._root}/{path}" if self._root else path

    def _url(self, path: str) -> str:
        return f"{API_PREFIX}/{quote(self._full(path), safe='/')}"

    def _retrying(self, what: str, attempt: Callable[[], _T]) -> _T:
        """Run ``attempt`` until it succeeds, retrying StoreUnavailable until the deadline."""
        deadline = time.monotonic() + self._max_retry_s
        delay = 0.05
        while True:
            try:
                return attempt()
            except StoreUnavailable:
                if time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)

    def _request(
        self,
        method: str,
        path_url: str,
        what: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
    ) -> httpx.Response:
        """One small request, retried on transport failures and 5xx; 4xx become errors."""

        def attempt() -> httpx.Response:
            try:
                response = self._client.request(method, path_url, params=params, json=json_body)
            except httpx.HTTPError as e:
                raise _unreachable(e, self._server, what) from e
            if response.status_code >= 400:
                raise _error_from(response, what)
            return response

        return self._retrying(what, attempt)

    def _upload(self, chunks: Iterator[bytes], path: str, what: str) -> ArtifactInfo:
        """PUT ``chunks`` as a chunked body; no retry here (the caller decides)."""
        try:
            response = self._client.put(
                self._url(path),
                content=chunks,
                headers={"Content-Type": "application/octet-stream"},
            )
        except httpx.HTTPError as e:
            raise _unreachable(e, self._server, what) from e
        if response.status_code >= 400:
            raise _error_from(response, what)
        return ArtifactInfo(path, int(response.json()["size"]))

    # -- writes ---------------------------------------------------------------------------

    def put_stream(self, fileobj: BinaryIO, path: str) -> ArtifactInfo:
        """Stream ``fileobj`` to the server at ``path`` (see the module docstring)."""
        check_path(path)
        what = f"upload of {path!r}"
        source = iter_chunks(fileobj)
        first = next(source, b"")  # a text stream is refused here, before any request
        source_error: list[BaseException] = []
        started = [False]

        def body() -> Iterator[bytes]:
            started[0] = True
            try:
                if first:
                    yield first
                yield from source
            except BaseException as e:
                source_error.append(e)
                raise

        def attempt() -> ArtifactInfo:
            try:
                return self._upload(body(), path, what)
            except StoreUnavailable as e:
                if source_error:
                    raise source_error[0] from None
                if started[0]:  # part of the caller's stream is gone: cannot resend
                    raise StoreError(f"{what} failed midway: {e}") from e
                raise
            except BaseException:
                if source_error:
                    raise source_error[0] from None
                raise

        return self._retrying(what, attempt)

    def put_file(self, local_path: str | os.PathLike[str], path: str) -> ArtifactInfo:
        """Upload a local file, streamed; retried whole on transient failures."""
        check_path(path)
        with open_local_source(local_path):
            pass  # a missing or unreadable file is refused before any request

        def attempt() -> ArtifactInfo:
            with open_local_source(local_path) as source:
                return self._upload(iter_chunks(source), path, f"upload of {path!r}")

        return self._retrying(f"upload of {path!r}", attempt)

    def put_bytes(self, data: bytes, path: str) -> ArtifactInfo:
        """Upload ``data``; retried whole on transient failures."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidArgument(f"put_bytes needs bytes, got {type(data).__name__}")
        check_path(path)
        payload = bytes(data)
        return self._retrying(
            f"upload of {path!r}",
            lambda: self._upload(iter([payload]), path, f"upload of {path!r}"),
        )

    def move(self, src: str, dst: str) -> ArtifactInfo:
        """Move a file on the server (a copy and a delete where its store cannot rename)."""
        check_path(src)
        check_path(dst)
        body = {"src": self._full(src), "dst": self._full(dst)}
        self._request("POST", MOVES_PATH, f"move of {src!r}", json_body=body)
        return self.info(dst)

    # -- reads ----------------------------------------------------------------------------

    def open(self, path: str) -> BinaryIO:
        """Open a streamed download of the file at ``path``; the caller closes it."""
        check_path(path)
        what = f"download of {path!r}"

        def attempt() -> httpx.Response:
            request = self._client.build_request("GET", self._url(path))
            try:
                response = self._client.send(request, stream=True)
            except httpx.HTTPError as e:
                raise _unreachable(e, self._server, what) from e
            if response.status_code >= 400:
                try:
                    response.read()
                except httpx.HTTPError:
                    pass  # the status alone decides the error then
                finally:
                    response.close()
                raise _error_from(response, what)
            return response

        response = self._retrying(what, attempt)
        return io.BufferedReader(_ResponseReader(response, what), CHUNK_SIZE)

    def exists(self, path: str) -> bool:
        """True when the server stores a file at exactly ``path``."""
        try:
            self.info(path)
        except NotFound:
            return False
        return True

    def info(self, path: str) -> ArtifactInfo:
        """The size of the file at ``path`` (a HEAD request)."""
        check_path(path)
        response = self._request("HEAD", self._url(path), f"info of {path!r}")
        return ArtifactInfo(path, int(response.headers["Content-Length"]))

    def list(self, prefix: str = "") -> list[ArtifactInfo]:
        """Every file at or under the folder ``prefix``, sorted by path."""
        checked = check_prefix(prefix)
        response = self._request(
            "GET", API_PREFIX, f"listing of {prefix!r}", params={"prefix": self._full(checked)}
        )
        cut = len(self._root) + 1 if self._root else 0
        files = response.json()["files"]
        return [ArtifactInfo(f["path"][cut:], int(f["size"])) for f in files]

    # -- deletes --------------------------------------------------------------------------

    def delete(self, path: str, *, missing_ok: bool = False) -> int:
        """Delete a file or a folder of files on the server; returns how many."""
        checked = check_prefix(path)
        if checked == "":
            raise InvalidArgument("the whole store cannot be deleted: give a folder or a file")
        what = f"delete of {path!r}"
        # Retried with missing_ok so that a retry after a lost answer is not a NotFound.
        first = [True]

        def attempt() -> int:
            ok = missing_ok or not first[0]
            first[0] = False
            url = self._url(checked)
            try:
                response = self._client.delete(url, params={"missing_ok": str(ok).lower()})
            except httpx.HTTPError as e:
                raise _unreachable(e, self._server, what) from e
            if response.status_code >= 400:
                raise _error_from(response, what)
            return int(response.json()["deleted"])

        return self._retrying(what, attempt)


def _split_url(base_url: str) -> tuple[str, str]:
    """``(server, folder)``: the server URL without the proxy path, and the store's folder."""
    if not isinstance(base_url, str):
        raise InvalidArgument(f"artifact URL must be a str, got {type(base_url).__name__}")
    parts = urlsplit(base_url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InvalidArgument(f"{base_url!r} is not an http(s)://host[:port] URL")
    if parts.query or parts.fragment:
        raise InvalidArgument(f"artifact URL {base_url!r} must not have a query or fragment")
    path = parts.path.rstrip("/")
    mount, sep, folder = path.partition(API_PREFIX)
    if sep and folder and not folder.startswith("/"):
        mount, folder = path, ""  # e.g. /api/v1/artifactsX: not the proxy path
    root = check_prefix(unquote(folder.lstrip("/"))) if sep else ""
    server = urlunsplit((parts.scheme.lower(), parts.netloc, mount if sep else path, "", ""))
    return server.rstrip("/"), root
