"""Walking a local folder to upload it whole, refusing symlinks that lead out of it."""

from __future__ import annotations

import os
from pathlib import Path

from runyard.artifacts.paths import is_within
from runyard.errors import InvalidArgument, UnsafePath

__all__ = ["plan_upload"]


def plan_upload(root: Path) -> list[tuple[Path, str]]:
    """Every regular file under ``root`` with its ``/``-separated path relative to ``root``.

    Symlinks are followed while they stay inside ``root`` (each real folder is walked once,
    so a link cycle ends); the whole tree is checked before the caller writes anything.

    Returns:
        ``(local file, relative path)`` pairs, sorted by relative path.

    Raises:
        InvalidArgument: ``root`` is not a folder, or holds something that is not a regular
            file (a FIFO, a socket, a dangling symlink).
        UnsafePath: a symlink under ``root`` leads outside it.
    """
    if not root.is_dir():
        raise InvalidArgument(f"{str(root)!r} is not a folder")
    real_root = os.path.realpath(root)
    found: list[tuple[Path, str]] = []
    visited: set[str] = set()
    pending: list[tuple[Path, str]] = [(root, "")]
    while pending:
        folder, rel_folder = pending.pop()
        real_folder = os.path.realpath(folder)
        if real_folder in visited:
            continue
        visited.add(real_folder)
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = f"{rel_folder}/{entry.name}" if rel_folder else entry.name
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if not is_within(target, real_root):
                        raise UnsafePath(
                            f"{rel!r} in {str(root)!r} is a symlink to {target!r}, outside the "
                            "folder being uploaded; nothing was uploaded"
                        )
                    if not os.path.exists(target):
                        raise InvalidArgument(f"{rel!r} in {str(root)!r} is a dangling symlink")
                if entry.is_dir():
                    pending.append((Path(entry.path), rel))
                elif entry.is_file():
                    found.append((Path(entry.path), rel))
                else:
                    raise InvalidArgument(
                        f"{rel!r} in {str(root)!r} is not a regular file; nothing was uploaded"
                    )
    found.sort(key=lambda pair: pair[1])
    return found
