"""Path safety: each traversal pattern is refused with a message that names it."""

from __future__ import annotations

from pathlib import Path

import pytest

from runyard.artifacts.paths import MAX_PATH_BYTES, check_path, check_prefix, resolve_under
from runyard.errors import InvalidArgument, UnsafePath
from runyard.testing.artifact_store import UNSAFE_PATHS


@pytest.mark.parametrize("path", [pytest.param(p, id=i) for i, p in UNSAFE_PATHS])
def test_every_advisory_pattern_is_refused(path: str) -> None:
    with pytest.raises(UnsafePath, match="is refused"):
        check_path(path)
    with pytest.raises(UnsafePath):
        check_prefix(path)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../x", "'..' segment"),
        ("/etc/passwd", "absolute path"),
        ("C:/x", "drive letter"),
        ("a\\b", "backslash"),
        ("a\x00b", "NUL byte"),
        ("a//b", "empty segment"),
        ("file:///etc/passwd", "a URI"),
        ("%2e%2e%2fx", r"'\.\.' segment \(decodes to '\.\./x'\)"),
        ("%252e%252e%252fx", r"decodes to '\.\./x'"),
        ("\uff0e\uff0e/x", r"decodes to '\.\./x'"),
    ],
)
def test_the_message_names_the_pattern(path: str, reason: str) -> None:
    with pytest.raises(UnsafePath, match=reason):
        check_path(path)


@pytest.mark.parametrize(
    "path",
    ["a.txt", "a/b/c.txt", "..hidden", "a..b/c", "...", ".env", "100%.txt", "a%20b", "é/ü.bin"],
)
def test_ordinary_names_pass_unchanged(path: str) -> None:
    assert check_path(path) == path


def test_prefixes_may_end_in_one_slash_or_be_empty() -> None:
    assert check_prefix("") == ""
    assert check_prefix("runs/7/") == "runs/7"
    with pytest.raises(UnsafePath):
        check_prefix("/")
    with pytest.raises(UnsafePath):
        check_prefix("runs//")


def test_empty_overlong_and_non_string_paths_are_invalid() -> None:
    with pytest.raises(InvalidArgument, match="empty"):
        check_path("")
    with pytest.raises(InvalidArgument, match="longer than"):
        check_path("a" * (MAX_PATH_BYTES + 1))
    with pytest.raises(InvalidArgument, match="must be a str"):
        check_path(b"a.txt")  # type: ignore[arg-type]


def test_symlinks_that_leave_the_root_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "inside").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (root / "ok").symlink_to(root / "inside", target_is_directory=True)
    (root / "out").symlink_to(tmp_path / "outside", target_is_directory=True)
    assert resolve_under(root, "ok/file.txt") == root / "ok" / "file.txt"
    with pytest.raises(UnsafePath, match="symlink"):
        resolve_under(root, "out/file.txt")
