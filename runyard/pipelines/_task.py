"""What runs on the executor for one step call: the user's function, with its output captured."""

from __future__ import annotations

import contextlib
import io
import pickle
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

__all__ = ["TaskOutcome", "run_step_call", "trim_traceback"]

_RUNYARD_DIR = str(Path(__file__).resolve().parent.parent)


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """The result of one step call as it travels back from the worker."""

    ok: bool
    value: Any
    error: BaseException | None
    traceback: str
    stdout: str
    stderr: str
    duration_s: float


class _Tee(io.TextIOBase):
    """Writes to a buffer and to the stream it replaces, so prints still show live."""

    def __init__(self, original: TextIO) -> None:
        self.buffer_ = io.StringIO()
        self.original = original

    def write(self, text: str) -> int:
        self.buffer_.write(text)
        try:
            self.original.write(text)
        except (OSError, ValueError):
            pass
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.original.flush()


def trim_traceback(error: BaseException) -> str:
    """The traceback of ``error`` without runyard's own frames."""
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if not str(Path(f.filename).resolve()).startswith(_RUNYARD_DIR)
    ]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    lines += traceback.format_exception_only(type(error), error)
    return "".join(lines)


def _travels(error: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # an exception type that cannot be pickled
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


def run_step_call(
    fn: Callable[..., Any], kwargs: dict[str, Any], capture: bool = True
) -> TaskOutcome:
    """Call ``fn(**kwargs)``, catching its error and capturing stdout and stderr."""
    out = _Tee(sys.stdout)
    err = _Tee(sys.stderr)
    start = time.perf_counter()
    redirect = contextlib.ExitStack()
    if capture:
        redirect.enter_context(contextlib.redirect_stdout(out))
        redirect.enter_context(contextlib.redirect_stderr(err))
    with redirect:
        try:
            value = fn(**kwargs)
        except Exception as e:  # the user's error is the step's result
            elapsed = time.perf_counter() - start
            return TaskOutcome(
                False,
                None,
                _travels(e),
                trim_traceback(e),
                out.buffer_.getvalue(),
                err.buffer_.getvalue(),
                elapsed,
            )
    return TaskOutcome(
        True,
        value,
        None,
        "",
        out.buffer_.getvalue(),
        err.buffer_.getvalue(),
        time.perf_counter() - start,
    )
