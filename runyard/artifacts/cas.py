"""Content addressing, dedup and verified downloads, as a wrapper around any artifact store.

:class:`ContentAddressedStore` keeps each distinct content once, as a blob at
``blobs/sha256/<2 hex>/<62 hex>`` of the backend it wraps, and hands back an
:class:`~runyard.entities.ArtifactRef` — the logical path the caller chose, the digest
``sha256:<hex>``, the size and the blob's URI — for the tracking store to record on a run.
Logical paths are only names in refs; they go through the same path checks as every store.

* **Hashing while streaming.** Bytes are hashed as they are written. On a backend whose
  :attr:`~runyard.artifacts.base.ArtifactStore.supports_cheap_move` is True (a local folder)
  every input is read once, into a temp blob that is then renamed to its digest. On an object
  store a local file is hashed first and uploaded only if its blob is missing — one extra
  local read buys skipping the whole upload on a dedup hit; a stream of unknown content goes to
  a temp object and a server-side copy.
* **Dedup.** A blob already present is never written again.
* **Deferred durability.** ``put_bytes(..., durable=False)`` on a local folder writes the blob
  atomically without waiting for the disk; :meth:`ContentAddressedStore.sync` later makes
  every such blob durable in one group
  (:meth:`~runyard.artifacts.local.LocalArtifactStore.sync_files`).
  A caller records nothing that points at such a blob before it calls :meth:`sync`. Other
  backends are durable when a write returns, so the flag changes nothing there.
* **Verified reads.** :meth:`download` and :meth:`get_bytes` check the digest (and size) of
  what they read; a corrupt blob raises :class:`~runyard.errors.StoreError` and the
  destination file is left as it was.

Thread-safe whenever the backend is (all backends are); the only state it holds, the set of
blobs waiting for :meth:`ContentAddressedStore.sync`, is guarded by a lock.

Example:
    >>> from runyard.artifacts import open_cas
    >>> cas = open_cas("/tmp/runyard-doc-cas")
    >>> ref = cas.put_bytes(b"weights", "model/weights.bin")
    >>> ref.digest
    'sha256:9a129038d9a00aed0cf6a7ea059ca50a813449061ab87848cf1a13eafdf33b2c'
    >>> cas.get_bytes(ref.digest)
    b'weights'
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import threading
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from runyard.artifacts._dir_walk import plan_upload
from runyard.artifacts._streams import iter_chunks, open_local_source, write_local_atomically
from runyard.artifacts.base import ArtifactStore
from runyard.artifacts.local import LocalArtifactStore, quick_check_path
from runyard.artifacts.paths import check_path, check_prefix, resolve_under
from runyard.entities import ArtifactRef
from runyard.errors import InvalidArgument, NotFound, RunyardError, StoreError

__all__ = ["BLOB_ROOT", "ContentAddressedStore", "parse_digest"]

BLOB_ROOT = "blobs/sha256"
"""Where blobs live inside the backend."""

_TMP_ROOT = "tmp"
_SYNCED_MEMORY = 100_000
"""How many blobs an instance remembers having made durable (so as not to sync them again)."""
_DIGEST = re.compile(r"^sha256:([0-9a-fA-F]{64})$")


def parse_digest(digest: str | ArtifactRef) -> str:
    """The lowercase hex of a ``sha256:<hex>`` digest (or of a ref's digest).

    Raises:
        InvalidArgument: not a ``sha256:`` digest of 64 hex digits.

    Example:
        >>> parse_digest("sha256:" + "AB" * 32) == "ab" * 32
        True
    """
    text = digest.digest if isinstance(digest, ArtifactRef) else digest
    match = _DIGEST.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidArgument(f"not a digest: {text!r} (expected 'sha256:' and 64 hex digits)")
    return match.group(1).lower()


class ContentAddressedStore:
    """Deduplicated, digest-verified blobs on top of any :class:`ArtifactStore`.

    Args:
        backend: where the blobs live (a local folder, an S3 prefix, …).

    Example:
        >>> from runyard.artifacts import LocalArtifactStore
        >>> cas = ContentAddressedStore(LocalArtifactStore("/tmp/runyard-doc-cas"))
        >>> a = cas.put_bytes(b"same", "a.txt")
        >>> b = cas.put_bytes(b"same", "copy/b.txt")
        >>> a.digest == b.digest and a.uri == b.uri
        True
    """

    def __init__(self, backend: ArtifactStore) -> None:
        self._backend = backend
        self._local = backend if isinstance(backend, LocalArtifactStore) else None
        self._unsynced: dict[str, bool] = {}  # blob -> written here (else found in place)
        self._synced: dict[str, None] = {}  # blobs this instance made durable, the latest last
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ContentAddressedStore({self._backend!r})"

    @property
    def backend(self) -> ArtifactStore:
        """The wrapped store."""
        return self._backend

    @property
    def uri(self) -> str:
        """The backend's URI."""
        return self._backend.uri

    @staticmethod
    def blob_path(digest: str | ArtifactRef) -> str:
        """The backend path of a digest's blob: ``blobs/sha256/<2 hex>/<62 hex>``.

        Raises:
            InvalidArgument: not a ``sha256:`` digest.
        """
        hexdigest = parse_digest(digest)
        return f"{BLOB_ROOT}/{hexdigest[:2]}/{hexdigest[2:]}"

    # -- writes -------------------------------------------------------------------------

    def put_bytes(self, data: bytes, path: str, *, durable: bool = True) -> ArtifactRef:
        """Store ``data`` under its digest and return a ref named ``path``.

        Args:
            data: the bytes.
            path: the logical path the ref carries.
            durable: with False (on a local folder) the blob is written atomically but is
                durable only after :meth:`sync`; record nothing that points at it before.

        Raises:
            UnsafePath: ``path`` is unsafe; nothing is written.
            InvalidArgument: ``data`` is not bytes.
            StoreError: the backend failed.
        """
        quick_check_path(path)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidArgument(f"put_bytes needs bytes, got {type(data).__name__}")
        hexdigest = hashlib.sha256(data).hexdigest()
        blob = f"{BLOB_ROOT}/{hexdigest[:2]}/{hexdigest[2:]}"
        local = self._local
        if local is None:
            if not self._backend.exists(blob):
                self._backend.put_bytes(data, blob)
        elif not durable:
            written = not local.exists(blob)
            if written:
                local.put_bytes(data, blob, sync=False)
            with self._lock:  # durable at the next sync, unless this instance synced it
                if written or blob not in self._synced:
                    self._unsynced[blob] = written or self._unsynced.get(blob, False)
        elif local.exists(blob):
            local.sync_files([blob])  # another writer may not have synced it yet
        else:
            local.put_bytes(data, blob)
        return self._ref(path, hexdigest, len(data))

    @property
    def unsynced(self) -> int:
        """How many blobs written with ``durable=False`` wait for :meth:`sync`."""
        return len(self._unsynced)

    def take_unsynced(self) -> dict[str, bool]:
        """Hand over the blobs waiting for :meth:`sync`: the caller takes over their sync.

        Returns each blob's backend path, True when this instance wrote it (its folder needs
        syncing too). Another instance on the same machine takes them with
        :meth:`expect_unsynced` (a worker process leaves the fsync to its driver, say).
        """
        with self._lock:
            pending, self._unsynced = self._unsynced, {}
        return pending

    def expect_unsynced(self, blobs: dict[str, bool]) -> None:
        """Have :meth:`sync` make durable blobs another instance handed over (``take_unsynced``)."""
        with self._lock:
            for blob, written in blobs.items():
                if written or blob not in self._synced:  # found in place and synced here: done
                    self._unsynced[blob] = written or self._unsynced.get(blob, False)

    def sync(self) -> None:
        """Make every blob written with ``durable=False`` durable; no-op when there is none.

        Raises:
            StoreError: the backend failed; the blobs stay waiting for the next call.
        """
        with self._sync_lock:  # a second caller returns only once the first one's are synced
            with self._lock:
                pending, self._unsynced = self._unsynced, {}
            if not pending or self._local is None:
                return
            # Blobs written here get their folder synced too (the new name); blobs found in
            # place (another writer's) only their content, the name being there already.
            written = sorted(b for b, new in pending.items() if new)
            found = sorted(b for b, new in pending.items() if not new)
            try:
                if written:
                    self._local.sync_files(written)
                if found:
                    self._local.sync_files(found, folders=False)
            except BaseException:
                with self._lock:
                    self._unsynced = {**pending, **self._unsynced}
                raise
            with self._lock:
                self._synced.update(dict.fromkeys(pending))
                while len(self._synced) > _SYNCED_MEMORY:
                    del self._synced[next(iter(self._synced))]

    def put_stream(self, fileobj: BinaryIO, path: str) -> ArtifactRef:
        """Store everything ``fileobj`` yields, hashing while it streams; one pass.

        The bytes go to a temp blob that is renamed (copied, on object stores) to its
        digest, or dropped when that blob exists already.

        Raises:
            UnsafePath: ``path`` is unsafe; nothing is read or written.
            StoreError: the backend failed; no blob is left half-written.
            Whatever ``fileobj.read`` raises propagates, with the same guarantee.
        """
        check_path(path)
        hashing = _HashingReader(fileobj)
        tmp = f"{_TMP_ROOT}/{uuid.uuid4().hex}"
        self._backend.put_stream(io.BufferedReader(hashing), tmp)
        hexdigest = hashing.hexdigest()
        blob = self.blob_path(f"sha256:{hexdigest}")
        moved = False
        try:
            if not self._backend.exists(blob):
                self._backend.move(tmp, blob)
                moved = True
            elif self._local is not None:
                self._local.sync_files([blob])  # another writer may not have synced it yet
        finally:
            if not moved:
                with contextlib.suppress(RunyardError):  # a leftover temp blob is harmless
                    self._backend.delete(tmp, missing_ok=True)
        return self._ref(path, hexdigest, hashing.size)

    def put_file(self, local_path: str | os.PathLike[str], path: str) -> ArtifactRef:
        """Store a local file, streamed; skips the upload when its content is stored already.

        Raises:
            UnsafePath: ``path`` is unsafe; nothing is read or written.
            InvalidArgument: ``local_path`` is missing or unreadable, or it changed while
                it was being uploaded (nothing is left under the wrong digest).
            StoreError: the backend failed.

        Example:
            >>> ref = cas.put_file("outputs/model.onnx", "model/model.onnx")  # doctest: +SKIP
            >>> ref.digest  # doctest: +SKIP
            'sha256:…'
        """
        check_path(path)
        if self._backend.supports_cheap_move:
            with open_local_source(local_path) as source:
                return self.put_stream(source, path)
        with open_local_source(local_path) as source:
            first = _HashingReader(source)
            for _ in iter_chunks(first):
                pass
        blob = self.blob_path(f"sha256:{first.hexdigest()}")
        if self._backend.exists(blob):
            return self._ref(path, first.hexdigest(), first.size)
        with open_local_source(local_path) as source:
            second = _HashingReader(source)
            self._backend.put_stream(io.BufferedReader(second), blob)
        if second.hexdigest() != first.hexdigest():
            self._backend.delete(blob, missing_ok=True)
            raise InvalidArgument(
                f"local file {os.fspath(local_path)!r} changed while it was uploaded; try again"
            )
        return self._ref(path, first.hexdigest(), first.size)

    def put_dir(self, local_dir: str | os.PathLike[str], prefix: str = "") -> list[ArtifactRef]:
        """Store every file under a local folder, keeping relative paths under ``prefix``.

        The whole tree is checked before anything is written: a symlink that leads outside
        ``local_dir``, or a file name that is not a safe logical path, refuses the call.
        Symlinks that stay inside are followed (each folder once).

        Returns:
            One ref per file, sorted by path.

        Raises:
            UnsafePath: an unsafe name or an escaping symlink; nothing is written.
            InvalidArgument: ``local_dir`` is not a folder, or holds a file that is not a
                regular file (a FIFO, a dangling symlink).
            StoreError: the backend failed.

        Example:
            >>> cas.put_dir("outputs/", prefix="outputs")  # doctest: +SKIP
            [ArtifactRef(path='outputs/metrics.json', ...), ...]
        """
        base = check_prefix(prefix)
        plan = plan_upload(Path(local_dir))
        named = [(source, f"{base}/{rel}" if base else rel) for source, rel in plan]
        for _, logical in named:
            check_path(logical)
        refs = [self.put_file(source, logical) for source, logical in named]
        refs.sort(key=lambda r: r.path)
        return refs

    # -- reads --------------------------------------------------------------------------

    def has(self, digest: str | ArtifactRef) -> bool:
        """True when the blob of ``digest`` is stored. Raises InvalidArgument for a bad digest."""
        return self._backend.exists(self.blob_path(digest))

    def open(self, digest: str | ArtifactRef) -> BinaryIO:
        """Open a blob for a streamed read (not verified; :meth:`download` verifies).

        Raises:
            NotFound: no blob with that digest.
            InvalidArgument: not a ``sha256:`` digest.
            StoreError: the backend failed.
        """
        blob = self.blob_path(digest)
        try:
            return self._backend.open(blob)
        except NotFound as e:
            raise NotFound(f"no blob {_shown(digest)} in {self.uri}") from e

    def get_bytes(self, digest: str | ArtifactRef) -> bytes:
        """The content of a blob, verified against its digest.

        Raises:
            NotFound, InvalidArgument: as :meth:`open`.
            StoreError: the backend failed, or the blob is corrupt.
        """
        expected = parse_digest(digest)
        with self.open(digest) as stream:
            data = stream.read()
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise StoreError(
                f"blob sha256:{expected} in {self.uri} is corrupt: its content hashes to "
                f"sha256:{actual}"
            )
        return data

    def download(self, ref: ArtifactRef, dest: str | os.PathLike[str]) -> Path:
        """Write a ref's content to a local file, streamed, verified before it appears.

        Args:
            ref: what to download (its digest selects the blob; its size is checked).
            dest: the local file to write; if it is an existing folder, the file is written
                at ``dest/<ref.path>`` (folders created; symlinks out of ``dest`` refused).

        Returns:
            The local file written.

        Raises:
            UnsafePath: ``ref.path`` is unsafe (a ref from an untrusted source); nothing
                is written.
            NotFound, InvalidArgument: as :meth:`open`.
            StoreError: the backend failed or the content does not match the ref's digest
                and size; ``dest`` is left as it was.

        Example:
            >>> cas.download(ref, "/tmp/restored.bin")  # doctest: +SKIP
            PosixPath('/tmp/restored.bin')
        """
        check_path(ref.path)
        expected = parse_digest(ref)
        target = Path(dest)
        if target.is_dir():
            target = resolve_under(target, ref.path)

        with self.open(ref) as stream:
            hashing = _HashingReader(stream)

            def verify(size: int) -> None:
                actual = hashing.hexdigest()
                if actual != expected or size != ref.size:
                    raise StoreError(
                        f"artifact {ref.path!r} is corrupt in {self.uri}: read {size} bytes "
                        f"hashing to sha256:{actual}, the ref says {ref.size} bytes "
                        f"sha256:{expected}; {str(target)!r} was not written"
                    )

            write_local_atomically(io.BufferedReader(hashing), target, verify=verify)
        return target

    # -- internals ----------------------------------------------------------------------

    def _ref(self, path: str, hexdigest: str, size: int) -> ArtifactRef:
        blob = self.blob_path(f"sha256:{hexdigest}")
        return ArtifactRef(
            path=path, digest=f"sha256:{hexdigest}", size=size, uri=self._backend.uri_for(blob)
        )


class _HashingReader(io.RawIOBase):
    """A raw reader that hashes (SHA-256) and counts every byte read through it."""

    def __init__(self, source: BinaryIO) -> None:
        super().__init__()
        self._source = source
        self._sha = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._source.read(len(view))
        n = len(data)
        view[:n] = data
        self._sha.update(data)
        self.size += n
        return n

    def hexdigest(self) -> str:
        """The hex SHA-256 of everything read so far."""
        return self._sha.hexdigest()


def _shown(digest: str | ArtifactRef) -> str:
    return digest.digest if isinstance(digest, ArtifactRef) else digest
