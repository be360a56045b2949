"""What runs on the executor for one step call: the user's function, with its output captured."""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from runyard.entities import ArtifactRef

if TYPE_CHECKING:
    from runyard.artifacts.cas import ContentAddressedStore

__all__ = [
    "OutputTarget",
    "TaskOutcome",
    "kernel_id",
    "run_step_call",
    "sync_outputs",
    "trim_traceback",
    "where_am_i",
]

_RUNYARD_DIR = str(Path(__file__).resolve().parent.parent)


@dataclass(frozen=True, slots=True)
class OutputTarget:
    """Where a worker stores the step's output itself (isolated executors only).

    Writing the output from the worker means a finished step's result is durable in the
    artifact store even if the driver or the cluster dies before the result travels back.

    Attributes:
        artifact_uri: the content-addressed store's URI.
        serializer: the step's declared serializer, or None to choose by type.
        label: the step call's label (the artifact is ``outputs/<label>.<ext>``).
        step_name: for messages.
        durable: False writes the output without waiting for the disk; the executor then
            calls :func:`sync_outputs` before it hands the call's outcome back (one group
            commit for a chunk of calls instead of one per call).
        sync_by: the :func:`kernel_id` of the driver. A worker on that same machine writes
            the output without waiting for the disk and hands the fsync to the driver
            (:attr:`TaskOutcome.unsynced`), which makes it durable before it records
            anything that points at it; the next step need not wait for the disk. A worker
            elsewhere writes durably, as with ``durable``.
    """

    artifact_uri: str
    serializer: str | None
    label: str
    step_name: str
    durable: bool = True
    sync_by: str | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled with every task: a tuple of the fields is far cheaper than a slots
        # dataclass's default state (which walks dataclasses.fields() each time).
        return OutputTarget, (
            self.artifact_uri,
            self.serializer,
            self.label,
            self.step_name,
            self.durable,
            self.sync_by,
        )


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """The result of one step call as it travels back from the worker.

    ``stored`` is ``(serializer name, ArtifactRef)`` when the worker stored the output;
    ``unstorable`` says why it could not; ``worker`` says where the call ran; ``unsynced``
    holds the blobs the worker left for the driver to make durable (see
    :attr:`OutputTarget.sync_by`), as :meth:`ContentAddressedStore.take_unsynced
    <runyard.artifacts.cas.ContentAddressedStore.take_unsynced>` gives them.
    """

    ok: bool
    value: Any
    error: BaseException | None
    traceback: str
    stdout: str
    stderr: str
    duration_s: float
    stored: tuple[str, ArtifactRef] | None = None
    unstorable: str | None = None
    worker: str = ""
    unsynced: dict[str, bool] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Travels back with every task: see OutputTarget.__reduce__ (the ArtifactRef, a
        # slots dataclass too, goes as a tuple of its fields).
        stored = self.stored
        flat = None if stored is None else (stored[0], *_ref_fields(stored[1]))
        return _outcome, (
            self.ok,
            self.value,
            self.error,
            self.traceback,
            self.stdout,
            self.stderr,
            self.duration_s,
            flat,
            self.unstorable,
            self.worker,
            self.unsynced,
        )


def _ref_fields(ref: ArtifactRef) -> tuple[str, str, int, str]:
    """An ArtifactRef's fields, in order."""
    return ref.path, ref.digest, ref.size, ref.uri


def _outcome(
    ok: bool,
    value: Any,
    error: BaseException | None,
    traceback: str,
    stdout: str,
    stderr: str,
    duration_s: float,
    flat: tuple[str, str, str, int, str] | None,
    unstorable: str | None,
    worker: str,
    unsynced: dict[str, bool] | None,
) -> TaskOutcome:
    stored = None if flat is None else (flat[0], ArtifactRef(*flat[1:]))
    return TaskOutcome(
        ok,
        value,
        error,
        traceback,
        stdout,
        stderr,
        duration_s,
        stored,
        unstorable,
        worker,
        unsynced,
    )


_CAS_BY_URI: dict[str, ContentAddressedStore] = {}
_KERNEL: list[str | None] = []


def kernel_id() -> str | None:
    """This machine's boot id (the same for every process on one running kernel), or None.

    Two processes with the same id share one page cache: an fsync by either makes a file
    the other wrote durable.
    """
    if not _KERNEL:
        try:
            boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        except OSError:
            boot = ""
        _KERNEL.append(f"{socket.gethostname()}/{boot}" if boot else None)
    return _KERNEL[0]


_ON_RAY: dict[int, str] = {}  # where_am_i of this process (by pid) once it is on Ray


def where_am_i() -> str:
    """``host:pid`` of this process, with the Ray node's address when on Ray."""
    pid = os.getpid()
    ray = sys.modules.get("ray")
    on_ray = ray is not None and ray.is_initialized()
    known = _ON_RAY.get(pid) if on_ray else None
    if known is not None:  # a Ray worker runs many calls; its node does not change
        return known
    host = socket.gethostname()
    if on_ray and ray is not None:
        with contextlib.suppress(Exception):
            host = f"ray node {ray.util.get_node_ip_address()}"
            _ON_RAY[pid] = f"{host}:{pid}"
    return f"{host}:{pid}"


def _store_output(
    value: Any, target: OutputTarget
) -> tuple[tuple[str, ArtifactRef] | None, str | None, dict[str, bool] | None]:
    from runyard.artifacts import open_cas
    from runyard.pipelines import serializers

    try:
        name, data = serializers.dump(value, target.serializer, f"step {target.step_name!r}")
    except serializers.Unstorable as e:
        return None, f"the output cannot be stored: {e}", None
    cas = _CAS_BY_URI.get(target.artifact_uri)
    if cas is None:
        cas = _CAS_BY_URI[target.artifact_uri] = open_cas(target.artifact_uri)
    ext = serializers.get_serializer(name).extension
    path = f"outputs/{target.label}.{ext}"
    if target.sync_by is not None and target.sync_by == kernel_id():
        ref = cas.put_bytes(data, path, durable=False)
        return (name, ref), None, cas.take_unsynced()
    return (name, cas.put_bytes(data, path, durable=target.durable)), None, None


def sync_outputs(artifact_uri: str) -> None:
    """Make the outputs this process stored with ``durable=False`` in ``artifact_uri`` durable.

    Raises:
        StoreError: the artifact store failed; the outputs are not known to be durable.
    """
    cas = _CAS_BY_URI.get(artifact_uri)
    if cas is not None:
        cas.sync()


class _Tee(io.TextIOBase):
    """Writes to a buffer and to the stream it replaces, so prints still show live."""

    def __init__(self, original: TextIO) -> None:
        self.buffer_ = io.StringIO()
        self.original = original
        self._written = False  # since the last flush

    def write(self, text: str) -> int:
        self.buffer_.write(text)
        self._written = True
        try:
            self.original.write(text)
        except (OSError, ValueError):
            pass
        return len(text)

    def flush(self) -> None:
        # Also called when the tee is closed or collected: flush only what it wrote.
        if self._written:
            self._written = False
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
    fn: Callable[..., Any],
    kwargs: dict[str, Any],
    capture: bool = True,
    target: OutputTarget | None = None,
) -> TaskOutcome:
    """Call ``fn(**kwargs)``, catching its error and capturing stdout and stderr.

    With a ``target``, the output is also serialized and stored by this process.
    """
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
                worker=where_am_i(),
            )
    elapsed = time.perf_counter() - start
    stored, unstorable, unsynced = (
        _store_output(value, target) if target is not None else (None, None, None)
    )
    return TaskOutcome(
        True,
        value,
        None,
        "",
        out.buffer_.getvalue(),
        err.buffer_.getvalue(),
        elapsed,
        stored,
        unstorable,
        where_am_i(),
        unsynced,
    )
