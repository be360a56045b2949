"""An artifact store in a local folder.

Writes go to a temp file in the target's own folder, are fsynced and then renamed over the
target with :func:`os.replace`, which is atomic on POSIX and Windows: a reader sees the old
file or the new one, never a mix, and a write that fails leaves nothing behind. Temp files end
in ``.runyard-part`` and are never listed; logical paths ending that way are refused.

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
import os
import stat
from pathlib import Path
from typing import BinaryIO

from runyard.artifacts._streams import TEMP_SUFFIX, write_local_atomically
from runyard.artifacts.base import ArtifactInfo, ArtifactStore
from runyard.artifacts.paths import check_path, check_prefix, is_within, resolve_under
from runyard.errors import InvalidArgument, NotFound, StoreError

__all__ = ["LocalArtifactStore"]


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
        return self._root.as_uri()

    # -- writes -------------------------------------------------------------------------

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
        target = self._file(path)
        try:
            return open(target, "rb")  # noqa: SIM115 - the caller closes it
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
            raise NotFound(f"no artifact at {path!r} in {self.uri}") from e
        except OSError as e:
            raise StoreError(f"cannot read {path!r} from {self.uri}: {e}") from e

    def exists(self, path: str) -> bool:
        """True when a file is at ``path``; see the base class."""
        target = resolve_under(self._root, path)
        return target.is_file()

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
        """The local path of a file to read; the logical path is checked."""
        return resolve_under(self._root, path)

    def _writable(self, path: str) -> Path:
        """The local path to write ``path`` to, refused if a file or folder is in the way."""
        check_path(path)
        if path.endswith(TEMP_SUFFIX):
            raise InvalidArgument(
                f"artifact names ending in {TEMP_SUFFIX!r} are reserved: {path!r}"
            )
        dest = resolve_under(self._root, path)
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
