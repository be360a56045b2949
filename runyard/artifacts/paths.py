r"""Path safety for artifact stores: one place decides which logical paths are allowed.

A logical path names a file inside a store, relative to its root, with forward slashes:
``model/weights.pt``. Every store and the content-addressed wrapper pass each path they are
given through :func:`check_path` (or :func:`check_prefix` for listing and deleting) before
touching anything, and local stores also pass the joined filesystem path through
:func:`resolve_under` so that a symlink inside the root cannot lead out of it.

Refused, with :class:`~runyard.errors.UnsafePath` and a message naming the pattern — these are
the patterns of the published path-traversal advisories against MLflow's artifact handlers:

* ``..`` or ``.`` segments (``../etc/passwd``, ``a/../../b``);
* absolute paths (``/etc/passwd``), drive letters (``C:/x``, ``c:x``), UNC-like ``//host``;
* backslashes (``..\\..\\x``) and URI schemes (``file:///etc/passwd``);
* NUL bytes and other control characters;
* empty segments (``a//b``, a trailing ``/`` on a file path);
* percent-encoded traversal, once or several times (``%2e%2e%2f``, ``%252e%252e%252f``,
  ``..%2f``, ``%5c``, ``%00``), and Unicode look-alikes that NFKC folds to ``.``/``/``
  (``．．／``).

Example:
    >>> from runyard.artifacts.paths import check_path
    >>> check_path("model/weights.pt")
    'model/weights.pt'
    >>> check_path("../etc/passwd")
    Traceback (most recent call last):
    ...
    runyard.errors.UnsafePath: artifact path '../etc/passwd' is refused: '..' segment
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

from runyard.errors import InvalidArgument, UnsafePath

__all__ = ["MAX_PATH_BYTES", "check_path", "check_prefix", "is_within", "resolve_under"]

MAX_PATH_BYTES = 1024
"""The longest logical path accepted, in UTF-8 bytes (the S3 key limit)."""

_MAX_DECODE_ROUNDS = 4
_DRIVE = re.compile(r"^[A-Za-z]:")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def check_path(path: str) -> str:
    """Return ``path`` unchanged if it is a safe logical file path, else raise.

    Args:
        path: a path relative to a store's root, forward slashes, no empty segments.

    Returns:
        The same string, so the call can wrap an argument in place.

    Raises:
        UnsafePath: the path could escape the store (see the module docstring).
        InvalidArgument: the path is not a string, is empty, or is longer than
            :data:`MAX_PATH_BYTES`.

    Example:
        >>> check_path("plots/loss.png")
        'plots/loss.png'
    """
    if not isinstance(path, str):
        raise InvalidArgument(f"artifact path must be a str, got {type(path).__name__}")
    if path == "":
        raise InvalidArgument("artifact path must not be empty")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise InvalidArgument(
            f"artifact path is longer than {MAX_PATH_BYTES} bytes: {path[:80]!r}…"
        )
    for variant in _variants(path):
        reason = _unsafe_reason(variant)
        if reason is not None:
            shown = "" if variant == path else f" (decodes to {variant!r})"
            raise UnsafePath(f"artifact path {path!r} is refused: {reason}{shown}")
    return path


def check_prefix(prefix: str) -> str:
    """Return a safe listing prefix without its trailing slash; ``""`` means the whole store.

    Args:
        prefix: ``""``, or a logical path, optionally ending in one ``/``.

    Raises:
        UnsafePath: as :func:`check_path`.
        InvalidArgument: as :func:`check_path`.

    Example:
        >>> check_prefix("plots/")
        'plots'
    """
    if not isinstance(prefix, str):
        raise InvalidArgument(f"artifact prefix must be a str, got {type(prefix).__name__}")
    if prefix == "":
        return ""
    trimmed = prefix[:-1] if prefix.endswith("/") else prefix
    if trimmed == "":
        raise UnsafePath("artifact prefix '/' is refused: absolute path")
    return check_path(trimmed)


def resolve_under(root: Path, path: str) -> Path:
    """Join a checked logical path to a local root and refuse symlinks that lead out of it.

    Every existing component of the joined path is resolved (symlinks followed); the result
    must lie inside ``root`` resolved the same way. Components that do not exist yet are
    kept as they are, so the function works for files about to be written.

    Args:
        root: the store's root folder.
        path: a logical path; checked with :func:`check_path` first.

    Returns:
        The joined path (not resolved: the caller writes through it, so a symlink that stays
        inside the root keeps working).

    Raises:
        UnsafePath: the path is unsafe, or a symlink on the way points outside ``root``.

    Example:
        >>> from pathlib import Path
        >>> resolve_under(Path("/srv/artifacts"), "a/b.txt")
        PosixPath('/srv/artifacts/a/b.txt')
    """
    check_path(path)
    joined = root.joinpath(*path.split("/"))
    real = os.path.realpath(joined)
    if not is_within(real, os.path.realpath(root)):
        raise UnsafePath(
            f"artifact path {path!r} is refused: a symlink under the store leads outside it "
            f"(to {real!r})"
        )
    return joined


def is_within(real: str, real_root: str) -> bool:
    """True when the resolved local path ``real`` is ``real_root`` or lies below it.

    Example:
        >>> is_within("/srv/a/b", "/srv/a"), is_within("/srv/ab", "/srv/a")
        (True, False)
    """
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def _variants(path: str) -> list[str]:
    """The path, its percent-decodings (repeatedly) and their NFKC foldings, distinct."""
    seen: list[str] = []
    current = path
    for _ in range(_MAX_DECODE_ROUNDS + 1):
        for candidate in (current, unicodedata.normalize("NFKC", current)):
            if candidate not in seen:
                seen.append(candidate)
        decoded = unquote(current, errors="surrogateescape")
        if decoded == current:
            break
        current = decoded
    return seen


def _unsafe_reason(path: str) -> str | None:
    """Why ``path`` is unsafe, or None if it is safe."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        return "NUL byte" if "\x00" in path else "control character"
    if "\\" in path:
        return "backslash (use '/' to separate folders)"
    if _SCHEME.match(path):
        return "a URI, not a relative path"
    if path.startswith("/"):
        return "absolute path"
    if _DRIVE.match(path):
        return "drive letter"
    for segment in path.split("/"):
        if segment == "":
            return "empty segment ('//' or a trailing '/')"
        if segment == "..":
            return "'..' segment"
        if segment == ".":
            return "'.' segment"
    return None
