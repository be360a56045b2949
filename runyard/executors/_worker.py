"""The loop a :class:`~runyard.executors.process.ProcessExecutor` worker process runs.

Started as ``python -m runyard.executors._worker FD``: ``FD`` is this end of a socket pair.
The first message is the parent's ``sys.path``; each later message is one cloudpickled
``(fn, args, kwargs)`` task, answered by one cloudpickled ``(ok, value, traceback_text)``.
An empty message, or the parent going away, ends the loop.
"""

from __future__ import annotations

import pickle
import signal
import sys
import traceback
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["main"]


def _encode_outcome(ok: bool, value: Any, tb_text: str) -> bytes:
    import cloudpickle  # type: ignore[import-untyped]

    try:
        return bytes(cloudpickle.dumps((ok, value, tb_text)))
    except Exception as e:  # the value or exception could not travel back
        what = "result" if ok else f"exception {type(value).__name__}: {value}"
        detail = f"the task's {what} could not be pickled ({type(e).__name__}: {e})"
        return pickle.dumps((False, None, f"{tb_text}\n{detail}" if tb_text else detail))


def serve(conn: Connection) -> None:
    """Answer tasks on ``conn`` until an empty message or end of file."""
    import cloudpickle

    parent_path = pickle.loads(conn.recv_bytes())
    sys.path[:0] = [p for p in parent_path if p not in sys.path]
    while True:
        try:
            message = conn.recv_bytes()
        except (EOFError, OSError):
            return
        if not message:
            return
        try:
            fn, args, kwargs = cloudpickle.loads(message)
            outcome = _encode_outcome(True, fn(*args, **kwargs), "")
        except BaseException as e:  # noqa: BLE001 - every task error goes back to the caller
            outcome = _encode_outcome(False, e, traceback.format_exc())
        try:
            conn.send_bytes(outcome)
        except (BrokenPipeError, OSError):
            return


def main() -> None:
    """Entry point: serve tasks on the inherited file descriptor ``sys.argv[1]``."""
    # Ctrl-C in a terminal reaches the whole process group; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(Connection(int(sys.argv[1])))


if __name__ == "__main__":
    main()
