"""Chunked copying between binary streams and local files, shared by the artifact stores."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from runyard.errors import InvalidArgument, StoreError

__all__ = ["CHUNK_SIZE", "iter_chunks", "open_local_source", "write_local_atomically"]

CHUNK_SIZE = 1024 * 1024
"""Bytes moved per read or write when streaming (1 MiB)."""

TEMP_SUFFIX = ".runyard-part"
"""Suffix of the temp files a local atomic write creates beside its target."""


def iter_chunks(fileobj: BinaryIO | io.RawIOBase, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield a readable binary stream's content in chunks until it ends.

    Exceptions raised by ``fileobj.read`` propagate unchanged.

    Raises:
        InvalidArgument: the stream yields ``str`` (it was opened in text mode).
    """
    while True:
        chunk = fileobj.read(chunk_size)
        if chunk is None:  # a non-blocking raw stream with nothing ready yet
            continue
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise InvalidArgument(
                f"a binary stream is needed; read() returned {type(chunk).__name__}"
            )
        if not chunk:
            return
        yield bytes(chunk)


def open_local_source(local_path: str | os.PathLike[str]) -> BinaryIO:
    """Open a local file to upload; the caller closes it.

    Raises:
        InvalidArgument: the file is missing, a folder, or unreadable.
    """
    shown = os.fspath(local_path)
    try:
        return open(local_path, "rb")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError as e:
        raise InvalidArgument(f"local file {shown!r} does not exist") from e
    except IsADirectoryError as e:
        raise InvalidArgument(f"{shown!r} is a folder, not a file") from e
    except OSError as e:
        raise InvalidArgument(f"cannot read local file {shown!r}: {e}") from e


def write_local_atomically(
    source: BinaryIO, dest: Path, verify: Callable[[int], None] | None = None
) -> int:
    """Stream ``source`` into ``dest`` through a temp file beside it, fsync and rename.

    Args:
        source: read in chunks until it ends.
        dest: the file to create or replace.
        verify: called with the byte count once everything is written, before the rename;
            whatever it raises abandons the write.

    Returns:
        The number of bytes written.

    Raises:
        StoreError: the local write failed; ``dest`` is as it was and no temp file is left.
        Any exception ``source.read`` raises propagates, with the same guarantee.
    """
    fd, tmp_name = _make_temp(dest)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in iter_chunks(source):
                _write(out, chunk, dest)
                size += len(chunk)
            _write(out, b"", dest, sync=True)
        if verify is not None:
            verify(size)
        _replace(tmp_name, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    return size


def _write(out: BinaryIO, chunk: bytes, dest: Path, *, sync: bool = False) -> None:
    """Write one chunk (or flush and fsync), translating local I/O errors."""
    try:
        if chunk:
            out.write(chunk)
        if sync:
            out.flush()
            os.fsync(out.fileno())
    except OSError as e:
        raise StoreError(f"cannot write {str(dest)!r}: {e}") from e


def _replace(tmp_name: str, dest: Path) -> None:
    """Rename the finished temp file over ``dest``, translating local I/O errors."""
    try:
        os.replace(tmp_name, dest)
    except IsADirectoryError as e:
        raise InvalidArgument(f"{str(dest)!r} is a folder; it cannot be replaced by a file") from e
    except OSError as e:
        raise StoreError(f"cannot write {str(dest)!r}: {e}") from e


def _make_temp(dest: Path) -> tuple[int, str]:
    """Create the folders and a temp file beside ``dest``.

    Retried a few times because a concurrent delete may prune a folder we just created.
    """
    for attempt in range(3):
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            return tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=TEMP_SUFFIX)
        except FileNotFoundError as e:
            if attempt == 2:
                raise StoreError(f"cannot write {str(dest)!r}: {e}") from e
        except (FileExistsError, NotADirectoryError) as e:
            raise InvalidArgument(
                f"cannot write {str(dest)!r}: a file is in the way of its folder"
            ) from e
        except OSError as e:
            raise StoreError(f"cannot write {str(dest)!r}: {e}") from e
    raise AssertionError("unreachable")
