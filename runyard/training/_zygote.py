"""A fork server for training workers: import torch once, fork a worker in milliseconds.

Starting a worker costs an interpreter and its imports (torch alone takes seconds on a busy
machine); on a restart that is most of the time to recovery. So the local launcher starts
one *zygote* process per run (``python -m runyard.training._zygote FD``) that imports torch,
runyard's worker code and the training function's module at once — while the driver creates
the run — and then waits. Every worker of every attempt is an ``os.fork()`` of it: the first
attempt's ranks start as soon as the imports are done, and a restart's ranks start in
milliseconds, already warm.

Once rank 0 has reported, and where the machine has a CPU the workers leave free, the
launcher asks the zygote to import the modules the running workers imported (the dataset
library, …) under ``SCHED_IDLE`` where that can be undone (as root), so that it only uses
CPU time the training leaves idle (see :mod:`runyard.training._standby`); the launcher puts
it back to normal scheduling when a restart needs it. A single-threaded process that has only
imported modules forks safely (torch starts its thread pools on first use, in the worker).

Protocol on the socket pair (pickled tuples): the driver sends ``("import", names, low)``
and ``("fork", token, payload, result_path)``; the zygote answers ``("started", token, pid)``
and ``("exited", token, pid, returncode)``. A forked worker writes its cloudpickled
:class:`~runyard.training._spec.WorkerOutcome` to ``result_path`` (atomically) and exits 0;
any other exit is a lost worker. End of file on the socket ends the zygote and its workers.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import pickle
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from runyard.executors import WorkerLost
from runyard.training._spec import WorkerOutcome, WorkerSpec
from runyard.training._standby import BASE_MODULES, take_over, warm_up

__all__ = ["Zygote", "main"]


def readable(fds: list[int], timeout: float) -> set[int]:
    """The descriptors of ``fds`` that are readable (a pidfd: its process exited).

    Waits up to ``timeout`` seconds. ``poll``, not ``select``: a process with many files open
    (a test runner, a notebook) hands out descriptors above 1024, which ``select`` refuses.

    Raises:
        OSError: one of ``fds`` is not open (as ``select`` does).
    """
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    events = poller.poll(timeout * 1000)
    if any(ev & select.POLLNVAL for _, ev in events):
        raise OSError(errno.EBADF, "a descriptor is not open")
    return {fd for fd, _ in events}


class Zygote:
    """The driver's handle on a zygote process.

    Args:
        modules: modules to import besides torch and runyard's worker code (the training
            function's module).
    """

    def __init__(self, modules: Sequence[str] = ()) -> None:
        parent_end, child_end = socket.socketpair()
        fd = child_end.fileno()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "runyard.training._zygote", str(fd)], pass_fds=(fd,)
        )
        child_end.close()
        self._conn = Connection(os.dup(parent_end.fileno()))
        parent_end.close()
        self._dir = Path(tempfile.mkdtemp(prefix="runyard-train-"))
        self._tokens = itertools.count()
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._futures: dict[int, Future[WorkerOutcome]] = {}
        self._pids: dict[int, int] = {}
        self._pidfds: dict[int, int] = {}  # token -> pidfd of a running worker
        self._closed = False
        self._send(pickle.dumps(list(sys.path)))
        self._send(pickle.dumps(("import", [*BASE_MODULES, *modules], False)))
        self._reader = threading.Thread(target=self._read, name="runyard-zygote", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        """The zygote's process id."""
        return self._proc.pid

    def spawn(self, spec: WorkerSpec) -> Future[WorkerOutcome]:
        """Fork a worker that runs ``run_worker(spec)``; its future holds the outcome.

        The future raises :class:`WorkerLost` when the worker dies without an outcome.
        """
        import cloudpickle  # type: ignore[import-untyped]

        future: Future[WorkerOutcome] = Future()
        token = next(self._tokens)
        path = self._dir / f"outcome-{token}.pkl"
        with self._lock:
            self._futures[token] = future
        try:
            self._send(pickle.dumps(("fork", token, cloudpickle.dumps(spec), str(path))))
        except OSError as e:
            self._settle(
                token, WorkerLost(f"could not start a worker: the fork server is gone ({e})")
            )
        return future

    def top_up(self, modules: Sequence[str]) -> None:
        """Import ``modules`` in the zygote under SCHED_IDLE, for the next attempt's workers."""
        with contextlib.suppress(OSError):
            self._send(pickle.dumps(("import", list(modules), True)))

    def wake(self) -> None:
        """Back to normal scheduling (a restart is waiting for an import under SCHED_IDLE)."""
        take_over(self._proc.pid)

    def lost(self) -> list[Future[WorkerOutcome]]:
        """Workers that died without an outcome (seen at once, before the zygote says so).

        A worker that finished writes its outcome before it exits, so an exited worker
        without one was lost; its future fails when the zygote reports the exit status.
        """
        with self._lock:
            running = list(self._pidfds.items())
        if not running:
            return []
        try:
            ready = readable([fd for _, fd in running], 0)
        except OSError:  # a pidfd closed meanwhile: its worker was reported
            return []
        exited = [t for t, fd in running if fd in ready]
        lost = [t for t in exited if not (self._dir / f"outcome-{t}.pkl").exists()]
        with self._lock:
            return [self._futures[t] for t in lost if t in self._futures]

    def kill_workers(self) -> None:
        """SIGKILL every worker still running (the attempt is over)."""
        with self._lock:
            pids = [self._pids[t] for t in self._futures if t in self._pids]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        """Stop the zygote and its workers; pending futures fail with :class:`WorkerLost`."""
        if self._closed:
            return
        self._closed = True
        self.kill_workers()
        self._conn.close()  # end of file: the zygote kills what is left and exits
        try:  # unless it is busy importing: it holds nothing worth waiting for
            self._proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._reader.join(timeout=5)
        shutil.rmtree(self._dir, ignore_errors=True)

    # -- plumbing -------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        with self._send_lock:
            self._conn.send_bytes(data)

    def _read(self) -> None:
        while True:
            try:
                message = pickle.loads(self._conn.recv_bytes())
            except (EOFError, OSError, TypeError):  # TypeError: closed under our feet
                break
            if message[0] == "started":
                with self._lock:
                    self._pids[message[1]] = message[2]
                    with contextlib.suppress(OSError):
                        self._pidfds[message[1]] = os.pidfd_open(message[2])
            elif message[0] == "exited":
                _, token, pid, code = message
                self._settle(token, self._outcome(token, pid, code))
        with self._lock:
            tokens = list(self._futures)
        for token in tokens:
            self._settle(token, WorkerLost("the training fork server exited"))

    def _outcome(self, token: int, pid: int, code: int) -> WorkerOutcome | BaseException:
        path = self._dir / f"outcome-{token}.pkl"
        if code == 0 and path.exists():
            outcome: WorkerOutcome = pickle.loads(path.read_bytes())
            path.unlink()
            return outcome
        if code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exited with status {code}"
        return WorkerLost(f"worker pid {pid} {how}")

    def _settle(self, token: int, result: WorkerOutcome | BaseException) -> None:
        with self._lock:
            future = self._futures.pop(token, None)
            self._pids.pop(token, None)
            pidfd = self._pidfds.pop(token, None)
        if pidfd is not None:
            os.close(pidfd)
        if future is None or future.done():
            return
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)


# -- the zygote's side --------------------------------------------------------------------


def serve(conn: Connection) -> None:
    """Import, fork and reap until the driver closes ``conn``.

    Workers are reaped by a SIGCHLD handler, so a worker's death is reported at once even
    while the zygote is busy importing; the main loop blocks SIGCHLD while it touches the
    socket or the table of workers.
    """
    parent_path = pickle.loads(conn.recv_bytes())
    sys.path[:0] = [p for p in parent_path if p not in sys.path]
    children: dict[int, int] = {}  # pid -> token
    signal.signal(signal.SIGCHLD, lambda *_: _reap(conn, children))
    try:
        while True:
            readable([conn.fileno()], 0.5)
            message = _next(conn, children)
            if message is None:
                return
            if message and message[0] == "import":  # SIGCHLD still reaps workers meanwhile
                warm_up(message[1], message[2], between=lambda: _serve_forks(conn, children))
                if message[2]:
                    take_over()
    finally:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in list(children):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _next(conn: Connection, children: dict[int, int]) -> tuple[Any, ...] | None:
    """Serve fork requests; return the next other message, ``()`` if none, None at the end."""
    with _sigchld_blocked():
        _reap(conn, children)
        while True:
            try:
                if not conn.poll():
                    return ()
                message: tuple[Any, ...] = pickle.loads(conn.recv_bytes())
            except (EOFError, OSError):
                return None
            if message[0] != "fork":
                return message
            _, token, payload, path = message
            pid = os.fork()
            if pid == 0:
                _child(conn, payload, path)
            children[pid] = token
            conn.send_bytes(pickle.dumps(("started", token, pid)))


def _serve_forks(conn: Connection, children: dict[int, int]) -> bool:
    """Between two imports of a top-up: fork what is asked for now; True stops the top-up.

    A restart's workers come first: once they are forked, the rest of the top-up is
    abandoned (they import what they still need themselves) instead of competing with
    them for CPU.
    """
    before = len(children)
    pending = _next(conn, children)
    if pending is None:
        raise SystemExit(0)  # the driver is gone
    if pending:  # another import list: rare; do it after this one
        warm_up(pending[1], pending[2])
    return len(children) > before


@contextlib.contextmanager
def _sigchld_blocked() -> Iterator[None]:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})


def _reap(conn: Connection, children: dict[int, int]) -> None:
    for pid, token in list(children.items()):
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done, status = pid, 0
        if not done:
            continue
        del children[pid]
        with contextlib.suppress(OSError):
            conn.send_bytes(pickle.dumps(("exited", token, pid, os.waitstatus_to_exitcode(status))))


def _child(conn: Connection, payload: bytes, path: str) -> None:
    """The forked worker: run one rank, write its outcome, exit (never returns)."""
    code = 0
    try:
        take_over()  # forked during a SCHED_IDLE import: a rank runs normally scheduled
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        conn.close()
        import cloudpickle

        from runyard.training._worker import run_worker

        parked: list[object] = []  # never freed: this process ends with os._exit
        outcome = run_worker(cloudpickle.loads(payload), keep=parked)
        try:
            data = cloudpickle.dumps(outcome)
        except Exception:  # noqa: BLE001 - the exception could not travel: send its text
            data = pickle.dumps(
                WorkerOutcome(
                    outcome.rank,
                    outcome.ok,
                    outcome.error_type,
                    outcome.message,
                    outcome.traceback,
                    outcome.communication,
                )
            )
        tmp = f"{path}.tmp"
        Path(tmp).write_bytes(data)
        os.replace(tmp, path)
    except BaseException:  # noqa: BLE001 - report and exit non-zero: the worker is lost
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def main() -> None:
    """Entry point: serve on the inherited file descriptor ``sys.argv[1]``."""
    # Ctrl-C in a terminal reaches the whole process group; the driver decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(Connection(int(sys.argv[1])))


if __name__ == "__main__":
    main()
