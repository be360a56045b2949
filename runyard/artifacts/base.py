"""The artifact store contract: a path-keyed blob store.

An :class:`ArtifactStore` keeps files (blobs of bytes) under logical paths such as
``model/weights.pt``, inside one root: a local folder or an object-store prefix
(``s3://bucket/prefix``). Every backend implements this class and passes the conformance
suite in :mod:`runyard.testing.artifact_store`. Content addressing, dedup and digests are a
wrapper around any store (:class:`runyard.artifacts.cas.ContentAddressedStore`), not a flag.

Contract, for every implementation:

* **Paths.** Logical paths are relative, ``/``-separated, with no empty, ``.`` or ``..``
  segments; every method checks its path with :mod:`runyard.artifacts.paths` before touching
  anything and raises :class:`~runyard.errors.UnsafePath` (nothing written, nothing read)
  for a path that could escape the root — traversal, absolute paths, drive letters,
  backslashes, NUL bytes, percent-encoded traversal, or a symlink that leads out of a local
  root.
* **Thread-safety.** One instance may be shared by any number of threads, and several
  processes may use the same root at once. A stream returned by :meth:`open` belongs to the
  thread that reads it.
* **Atomic writes.** A ``put_*`` either makes the whole new content visible at once or
  leaves the path as it was: a reader never sees a half-written file, and a write that fails
  midway (the source stream raised, the process died, the disk filled) leaves no file and no
  partial upload visible under the path. Concurrent writers of one path: the last one to
  finish wins, whole.
* **Streaming.** Files of many gigabytes are never loaded whole into memory: ``put_stream``,
  ``put_file``, ``open`` and ``get_file`` move bytes in chunks of :data:`CHUNK_SIZE` (object
  stores buffer at most one multipart part). Only ``put_bytes``/``get_bytes`` hold the content.
* **Immutable results.** :class:`ArtifactInfo` values are frozen.
* **Errors.** Only the :mod:`runyard.errors` tree escapes, except that an exception raised by
  a caller's own source stream (``put_stream``) propagates unchanged after the write is
  abandoned: :class:`~runyard.errors.NotFound` for a path with no file,
  :class:`~runyard.errors.UnsafePath` / :class:`~runyard.errors.InvalidArgument` for refused
  paths, :class:`~runyard.errors.StoreError` for backend failures, and its
  :class:`~runyard.errors.StoreUnavailable` for transient ones (connection refused, throttled,
  5xx) that the caller may retry.

Weaker backends advertise missing capabilities through the ``supports_*`` properties; callers
and the conformance suite branch on those, never on ``isinstance``.
"""

from __future__ import annotations

import abc
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from runyard.artifacts._streams import (
    CHUNK_SIZE,
    open_local_source,
    write_local_atomically,
)
from runyard.artifacts.paths import check_path
from runyard.errors import InvalidArgument

__all__ = ["CHUNK_SIZE", "ArtifactInfo", "ArtifactStore"]


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    """A file a store holds.

    Attributes:
        path: the logical path, relative to the store's root, forward slashes.
        size: bytes.
    """

    path: str
    size: int


class ArtifactStore(abc.ABC):
    """A path-keyed blob store; see the module docstring for the contract.

    Example:
        >>> from runyard.artifacts import get_artifact_store
        >>> store = get_artifact_store("/tmp/runyard-doc-artifacts")
        >>> store.put_bytes(b"hello", "notes/hello.txt")
        ArtifactInfo(path='notes/hello.txt', size=5)
        >>> store.get_bytes("notes/hello.txt")
        b'hello'
    """

    # -- capabilities -------------------------------------------------------------------

    @property
    def supports_cheap_move(self) -> bool:
        """True when :meth:`move` is a rename (no bytes copied); False when it copies."""
        return False

    # -- identity -----------------------------------------------------------------------

    @property
    @abc.abstractmethod
    def uri(self) -> str:
        """The store's root as a URI (``file:///…``, ``s3://bucket/prefix``), no trailing ``/``."""

    def uri_for(self, path: str) -> str:
        """The URI of the file at ``path`` (whether or not it exists). Raises UnsafePath."""
        return f"{self.uri}/{check_path(path)}"

    # -- writes -------------------------------------------------------------------------

    @abc.abstractmethod
    def put_stream(self, fileobj: BinaryIO, path: str) -> ArtifactInfo:
        """Write everything ``fileobj`` yields to ``path``, atomically, reading in chunks.

        Args:
            fileobj: a readable binary stream; read until it returns ``b""``, never seeked.
            path: the logical path; an existing file there is replaced.

        Returns:
            The written file's info.

        Raises:
            UnsafePath: the path is unsafe; nothing is read or written.
            InvalidArgument: the path is taken by a folder of files (local stores).
            StoreError: the backend failed; nothing is visible at ``path`` that was not before.
        """

    def put_file(self, local_path: str | os.PathLike[str], path: str) -> ArtifactInfo:
        """Copy a local file to ``path``, atomically and streamed.

        Raises:
            InvalidArgument: ``local_path`` is missing or not a readable file.
            UnsafePath, StoreError: as :meth:`put_stream`.
        """
        check_path(path)
        with open_local_source(local_path) as source:
            return self.put_stream(source, path)

    def put_bytes(self, data: bytes, path: str) -> ArtifactInfo:
        """Write ``data`` to ``path``, atomically. Raises as :meth:`put_stream`."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidArgument(f"put_bytes needs bytes, got {type(data).__name__}")
        return self.put_stream(io.BytesIO(data), path)

    @abc.abstractmethod
    def move(self, src: str, dst: str) -> ArtifactInfo:
        """Move the file at ``src`` to ``dst``, replacing ``dst`` atomically.

        A rename where :attr:`supports_cheap_move` is True; a server-side copy and a delete
        otherwise.

        Raises:
            NotFound: no file at ``src``.
            UnsafePath, StoreError: as :meth:`put_stream`.
        """

    # -- reads --------------------------------------------------------------------------

    @abc.abstractmethod
    def open(self, path: str) -> BinaryIO:
        """Open the file at ``path`` for a streamed binary read; the caller closes it.

        Raises:
            NotFound: no file at ``path`` (a folder is not a file).
            UnsafePath: the path is unsafe.
            StoreError: the backend failed, now or while reading.
        """

    def get_bytes(self, path: str) -> bytes:
        """The whole content of the file at ``path``. Raises as :meth:`open`."""
        with self.open(path) as stream:
            return stream.read()

    def get_file(self, path: str, local_dest: str | os.PathLike[str]) -> Path:
        """Copy the file at ``path`` to a local file, streamed; atomic on the local side.

        Args:
            path: the logical path.
            local_dest: the local file to write; if it is an existing folder, the file is
                written inside it under the last segment of ``path``.

        Returns:
            The local file written.

        Raises:
            NotFound, UnsafePath, StoreError: as :meth:`open`; a local write failure is a
                :class:`StoreError` and leaves ``local_dest`` as it was.
        """
        check_path(path)
        dest = Path(local_dest)
        if dest.is_dir():
            dest = dest / path.rsplit("/", 1)[-1]
        with self.open(path) as source:
            write_local_atomically(source, dest)
        return dest

    @abc.abstractmethod
    def exists(self, path: str) -> bool:
        """True when a file is stored at exactly ``path`` (a folder is not). Raises UnsafePath."""

    @abc.abstractmethod
    def info(self, path: str) -> ArtifactInfo:
        """The info of the file at ``path``. Raises NotFound, UnsafePath, StoreError."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> list[ArtifactInfo]:
        """Every file at or under ``prefix``, recursively, sorted by path.

        ``prefix`` names a folder or a file, not a string prefix: ``"a/b"`` matches ``a/b``
        and ``a/b/c`` but not ``a/bc``. ``""`` lists the whole store.

        Raises:
            UnsafePath: the prefix is unsafe.
            StoreError: the backend failed.
        """

    # -- deletes ------------------------------------------------------------------------

    @abc.abstractmethod
    def delete(self, path: str, *, missing_ok: bool = False) -> int:
        """Delete the file at ``path``, or every file under the folder ``path``.

        Returns:
            How many files were deleted.

        Raises:
            NotFound: nothing is stored at or under ``path`` and ``missing_ok`` is False.
            UnsafePath: the path is unsafe (the whole store cannot be deleted with ``""``).
            StoreError: the backend failed; some files may be gone, none is half-deleted.
        """
