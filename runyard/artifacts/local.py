"""An artifact store in a local folder.

Writes go to a temp file in the target's own folder, are fsynced and then renamed over the
target with :func:`os.replace`, which is atomic on POSIX and Windows: a reader sees the old
file or the new one, never a mix, and a write that fails leaves nothing behind. Temp files end
in ``.runyard-part`` and are never listed; logical paths ending that way are refused.

A caller that writes many small files and needs them durable only at a later point (the
pipeline engine, before it records anything that points at them) can skip the fsync with
``put_bytes(..., sync=False)`` and make a group of files durable later with
:meth:`LocalArtifactStore.sync_files`. That fsyncs the files and their folders from several
threads at once, so the file system commits them together: one journal commit for the group
instead of one per file. The write is atomic either way.

Symlinks inside the root are followed only while they stay inside it; a path through a
symlink that leads out is refused with :class:`~runyard.errors.UnsafePath`. (A process that
can create symlinks inside the root while runyard writes could still race that check; the
root is assumed to be writable only by runyard and its users.)

Example:
    >>> from runyard.artifacts.local import LocalArtifactStore
    >>> store = LocalArtifactStore("/tmp/runyard-doc-local")
    >>> store.put_bytes(b"0.93", "metrics/accuracy.txt").size
    4
    >>> [i.path for i in store.list("metrics")]
    ['metrics/accuracy.txt']
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import re
import stat
import tempfile
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from runyard.artifacts._streams import TEMP_SUFFIX, write_local_atomically
from runyard.artifacts.base import ArtifactInfo, ArtifactStore
from runyard.artifacts.paths import (
    MAX_PATH_BYTES,
    check_path,
    check_prefix,
    is_within,
    resolve_under,
)
from runyard.errors import InvalidArgument, NotFound, StoreError, UnsafePath

__all__ = ["LocalArtifactStore", "quick_check_path"]

_PLAIN_PATH = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*)*\Z")
"""Segments of ASCII letters, digits, ``_ - .`` not starting with a dot: always safe."""


def quick_check_path(path: str) -> str:
    """:func:`~runyard.artifacts.paths.check_path`, accepting plain names (blob paths) fast.

    A path of ``/``-separated segments made of ASCII letters, digits, ``_``, ``-`` and
    ``.``, none starting with a dot, has nothing :func:`check_path` refuses (no ``..``, no
    ``%``-escapes, no scheme, drive or control character); anything else goes through it.

    Example:
        >>> quick_check_path("blobs/sha256/ab/cdef")
        'blobs/sha256/ab/cdef'
    """
    if isinstance(path, str) and len(path) <= MAX_PATH_BYTES and _PLAIN_PATH.match(path):
        return path
    return check_path(path)


_SYNC_THREADS = 16
"""Files fsynced at once by :meth:`LocalArtifactStore.sync_files` (the group one commit covers)."""

_sync_pool: ThreadPoolExecutor | None = None
_sync_pool_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _sync_pool
    with _sync_pool_lock:
        if _sync_pool is None:
            _sync_pool = ThreadPoolExecutor(_SYNC_THREADS, thread_name_prefix="runyard-fsync")
        return _sync_pool


class LocalArtifactStore(ArtifactStore):
    """Files under a local folder, written atomically (temp file, fsync, rename).

    Args:
        root: the folder; created (with its parents) if missing.

    Raises:
        StoreError: the folder cannot be created, or ``root`` is a file.

    Example:
        >>> store = LocalArtifactStore("/tmp/runyard-doc-local")
        >>> store.uri
        'file:///tmp/runyard-doc-local'
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(os.path.abspath(os.path.expanduser(os.fspath(root))))
        try:
            self._root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the artifact folder {str(self._root)!r}: {e}") from e
        self._real_root = os.path.realpath(self._root)  # resolved once: reads are hot paths
        self._uri = self._root.as_uri()

    def __repr__(self) -> str:
        return f"LocalArtifactStore({str(self._root)!r})"

    @property
    def root(self) -> Path:
        """The folder that holds the files."""
        return self._root

    @property
    def supports_cheap_move(self) -> bool:
        """A move is a rename."""
        return True

    @property
    def uri(self) -> str:
        """``file:///…`` of the root folder."""
        return self._uri

    def uri_for(self, path: str) -> str:
        """The URI of the file at ``path`` (whether or not it exists). Raises UnsafePath."""
        return f"{self._uri}/{quick_check_path(path)}"

    # -- writes -------------------------------------------------------------------------

    def put_bytes(self, data: bytes, path: str, *, sync: bool = True) -> ArtifactInfo:
        """Write ``data`` to ``path`` atomically (temp file, rename).

        Args:
            data: the bytes.
            path: the logical path.
            sync: fsync before the rename (the default). With False the file appears
                atomically but is durable only once :meth:`sync_files` names it.

        Raises:
            UnsafePath, InvalidArgument, StoreError: as :meth:`put_stream`.
        """
        if sync:
            return super().put_bytes(data, path)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidArgument(f"put_bytes needs bytes, got {type(data).__name__}")
        if path.endswith(TEMP_SUFFIX):
            raise InvalidArgument(
                f"artifact names ending in {TEMP_SUFFIX!r} are reserved: {path!r}"
            )
        # A file in the way of a folder, or a folder at ``path``, fails the write itself.
        _write_unsynced(data, self._file(path), path)
        return ArtifactInfo(path, len(data))

    def sync_files(self, paths: Iterable[str], *, folders: bool = True) -> None:
        """Make files written with ``sync=False`` durable: their content and their names.

        Each file and (with ``folders``) each folder holding one is fsynced, from several
        threads at once so that the file system commits them together. A file that is gone
        is skipped.

        Raises:
            StoreError: an fsync failed (the files may not be durable).
        """
        files = [self._file(p) for p in dict.fromkeys(paths)]
        parents = list(dict.fromkeys(f.parent for f in files)) if folders else []
        targets = files + parents
        if len(targets) <= 1:
            for target in targets:
                _fsync(target)
            return
        for error in _pool().map(_fsync_error, targets):
            if error is not None:
                raise error

    def put_stream(self, fileobj: BinaryIO, path: str) -> ArtifactInfo:
        """Write ``fileobj`` to ``path`` through a temp file and a rename; see the base class."""
        dest = self._writable(path)
        size = write_local_atomically(fileobj, dest)
        return ArtifactInfo(path, size)

    def move(self, src: str, dst: str) -> ArtifactInfo:
        """Rename the file at ``src`` to ``dst`` (atomic); see the base class."""
        source = self._file(src)
        dest = self._writable(dst)
        try:
            size = source.stat().st_size
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, dest)
        except FileNotFoundError as e:
            raise NotFound(f"no artifact at {src!r}") from e
        except OSError as e:
            raise StoreError(f"cannot move {src!r} to {dst!r}: {e}") from e
        _prune_empty_parents(source.parent, self._root)
        return ArtifactInfo(dst, size)

    # -- reads --------------------------------------------------------------------------

    def open(self, path: str) -> BinaryIO:
        """Open the file for a streamed read; see the base class."""
        target, _ = self._lookup(path)
        try:
            return open(target, "rb")  # noqa: SIM115 - the caller closes it
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
            raise NotFound(f"no artifact at {path!r} in {self.uri}") from e
        except OSError as e:
            raise StoreError(f"cannot read {path!r} from {self.uri}: {e}") from e

    def exists(self, path: str) -> bool:
        """True when a file is at ``path``; see the base class."""
        local, mode = self._lookup(path)
        if mode is None:
            return False
        return stat.S_ISREG(mode) if mode >= 0 else os.path.isfile(local)

    def info(self, path: str) -> ArtifactInfo:
        """The size of the file at ``path``; see the base class."""
        return ArtifactInfo(path, _file_size(self._file(path), path, self.uri))

    def list(self, prefix: str = "") -> list[ArtifactInfo]:
        """Every file at or under ``prefix``, sorted; see the base class."""
        base_path = check_prefix(prefix)
        base = self._root if base_path == "" else resolve_under(self._root, base_path)
        try:
            if base.is_file():
                return [ArtifactInfo(base_path, base.stat().st_size)]
            if not base.is_dir():
                return []
        except OSError as e:
            if e.errno == errno.ENAMETOOLONG:  # no stored file can have such a name
                return []
            raise StoreError(f"cannot list {prefix!r} in {self.uri}: {e}") from e
        found: list[ArtifactInfo] = []
        real_root = os.path.realpath(self._root)
        visited: set[str] = set()
        pending: list[tuple[Path, str]] = [(base, base_path)]
        try:
            while pending:
                folder, logical = pending.pop()
                real = os.path.realpath(folder)
                if real in visited or not is_within(real, real_root):
                    continue
                visited.add(real)
                with os.scandir(folder) as entries:
                    for entry in entries:
                        child = f"{logical}/{entry.name}" if logical else entry.name
                        if entry.is_symlink() and not is_within(
                            os.path.realpath(entry.path), real_root
                        ):
                            continue
                        if entry.is_dir():
                            pending.append((Path(entry.path), child))
                        elif entry.is_file() and not entry.name.endswith(TEMP_SUFFIX):
                            found.append(ArtifactInfo(child, entry.stat().st_size))
        except OSError as e:
            raise StoreError(f"cannot list {prefix!r} in {self.uri}: {e}") from e
        found.sort(key=lambda i: i.path)
        return found

    # -- deletes ------------------------------------------------------------------------

    def delete(self, path: str, *, missing_ok: bool = False) -> int:
        """Delete a file or a whole folder of files; see the base class."""
        logical = check_prefix(path)
        if logical == "":
            raise InvalidArgument("refusing to delete the whole store; name a path")
        target = resolve_under(self._root, logical)
        try:
            if target.is_symlink() or target.is_file():
                count = len(self.list(logical)) or 1
                target.unlink()
            else:
                files = self.list(logical)
                for info in files:
                    with contextlib.suppress(FileNotFoundError):
                        resolve_under(self._root, info.path).unlink()
                count = len(files)
                _prune_empty_folders(target)
            _prune_empty_parents(target.parent, self._root)
        except OSError as e:
            raise StoreError(f"cannot delete {path!r} from {self.uri}: {e}") from e
        if count == 0 and not missing_ok:
            raise NotFound(f"no artifact at or under {path!r} in {self.uri}")
        return count

    # -- paths --------------------------------------------------------------------------

    def _file(self, path: str) -> Path:
        """The local path of ``path`` (checked), refused if a symlink on the way leads out.

        As :func:`~runyard.artifacts.paths.resolve_under`, but cheaper on the common path:
        the root is resolved once, and the components below it are looked at one by one
        (one ``lstat`` each); only when one is a symlink is the whole path resolved.
        """
        local, mode = self._lookup(path)
        if mode is not None and mode < 0:
            return Path(local)
        return Path(self._root, *path.split("/"))  # the root resolves to _real_root

    def _lookup(self, path: str) -> tuple[str, int | None]:
        """:meth:`_file` as a string, with what the last ``lstat`` found.

        Returns:
            The local path and the file's mode; None for the mode when nothing is there,
            -1 when a symlink on the way was followed (and checked to stay inside).
        """
        quick_check_path(path)
        current = self._real_root
        mode = None
        for part in path.split("/"):
            current = f"{current}{os.sep}{part}"
            try:
                mode = os.lstat(current).st_mode
            except (FileNotFoundError, NotADirectoryError):
                return current, None  # nothing below exists yet, so no symlink can lead out
            except OSError:
                return str(self._resolved(path)), -1
            if stat.S_ISLNK(mode):
                return str(self._resolved(path)), -1
        return current, mode

    def _resolved(self, path: str) -> Path:
        """``path`` joined to the root, every symlink on the way checked to stay inside."""
        joined = os.path.join(self._root, *path.split("/"))
        real = os.path.realpath(joined)
        if not is_within(real, self._real_root):
            raise UnsafePath(
                f"artifact path {path!r} is refused: a symlink under the store leads outside it "
                f"(to {real!r})"
            )
        return Path(joined)

    def _writable(self, path: str) -> Path:
        """The local path to write ``path`` to, refused if a file or folder is in the way."""
        check_path(path)
        if path.endswith(TEMP_SUFFIX):
            raise InvalidArgument(
                f"artifact names ending in {TEMP_SUFFIX!r} are reserved: {path!r}"
            )
        dest = self._file(path)
        if dest.is_dir():
            raise InvalidArgument(f"{path!r} is a folder of artifacts; it cannot become a file")
        for parent in dest.parents:
            if parent == self._root:
                break
            if parent.is_file():
                raise InvalidArgument(
                    f"cannot write {path!r}: {parent.relative_to(self._root).as_posix()!r} "
                    "is a file, not a folder"
                )
        return dest


def _write_unsynced(data: bytes | bytearray | memoryview, dest: Path, path: str) -> None:
    """Write ``data`` to a temp file beside ``dest`` and rename it over ``dest`` (no fsync)."""
    try:
        folder = dest.parent
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = _temp_beside(dest)
    except (FileExistsError, NotADirectoryError) as e:
        raise InvalidArgument(
            f"cannot write {path!r}: a file is in the way of one of its folders"
        ) from e
    except OSError as e:
        raise StoreError(f"cannot write {str(dest)!r}: {e}") from e
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp_name, dest)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        if isinstance(e, IsADirectoryError):
            raise InvalidArgument(
                f"{path!r} is a folder of artifacts; it cannot become a file"
            ) from e
        if isinstance(e, OSError):
            raise StoreError(f"cannot write {str(dest)!r}: {e}") from e
        raise


_TEMP_TOKEN = os.urandom(4).hex()
_temp_counter = itertools.count()


def _temp_beside(dest: Path) -> tuple[int, str]:
    """Create a new temp file beside ``dest`` (cheaper than :func:`tempfile.mkstemp`)."""
    for _ in range(100):
        unique = f"{os.getpid()}-{_TEMP_TOKEN}-{next(_temp_counter)}"
        name = f"{dest.parent}{os.sep}.{dest.name}.{unique}{TEMP_SUFFIX}"
        try:  # owner-only, as tempfile.mkstemp makes them
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), name
        except FileExistsError:  # left over by a process that had this pid: try the next
            continue
    return tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=TEMP_SUFFIX)


def _fsync(target: Path) -> None:
    """Flush a file or a folder to disk (fsync); a target that is gone is skipped."""
    try:
        fd = os.open(target, os.O_RDONLY)
    except FileNotFoundError:
        return
    except OSError as e:
        raise StoreError(f"cannot sync {str(target)!r}: {e}") from e
    try:
        os.fsync(fd)
    except OSError as e:
        raise StoreError(f"cannot sync {str(target)!r}: {e}") from e
    finally:
        os.close(fd)


def _fsync_error(target: Path) -> StoreError | None:
    try:
        _fsync(target)
    except StoreError as e:
        return e
    return None


def _file_size(target: Path, path: str, uri: str) -> int:
    """The size of a regular file, or NotFound."""
    try:
        st = target.stat()
    except (FileNotFoundError, NotADirectoryError) as e:
        raise NotFound(f"no artifact at {path!r} in {uri}") from e
    except OSError as e:
        raise StoreError(f"cannot stat {path!r} in {uri}: {e}") from e
    if not stat.S_ISREG(st.st_mode):
        raise NotFound(f"no artifact at {path!r} in {uri} (it is a folder)")
    return st.st_size


def _prune_empty_folders(top: Path) -> None:
    """Remove ``top`` and the folders below it that are empty (bottom-up), quietly."""
    if not top.is_dir() or top.is_symlink():
        return
    for folder, _, _ in os.walk(top, topdown=False):
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def _prune_empty_parents(folder: Path, root: Path) -> None:
    """Remove empty folders from ``folder`` up to (not including) ``root``, quietly."""
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
