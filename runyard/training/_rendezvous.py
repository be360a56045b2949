"""Rendezvous owned by the launcher: a ``torch.distributed.TCPStore`` the driver hosts.

The driver process (the one that called :func:`runyard.train`) hosts the store for the
whole run; every attempt uses its own key prefix, so a restarted group never reads a dead
group's keys. Workers use it to:

* form the process group (``init_process_group(store=...)`` — no ``MASTER_ADDR`` dance, and
  it works the same for local processes and for Ray workers on other nodes);
* publish their ``host:pid`` and rank 0's progress (epoch, metrics) for live displays;
* learn that the driver aborted the attempt: a watchdog thread in every worker polls the
  ``abort`` key and ends the process at once when it appears, or when the driver is gone —
  so a group never outlives its driver and never hangs on a dead peer.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

__all__ = ["RendezvousHost", "RendezvousInfo", "Watchdog", "connect"]

ABORT_EXIT_CODE = 70
"""Exit status of a worker that the driver's abort ended."""

ORPHAN_EXIT_CODE = 71
"""Exit status of a worker whose driver went away."""


@dataclass(frozen=True, slots=True)
class RendezvousInfo:
    """Where workers of one attempt meet.

    Attributes:
        host: the driver's address, reachable from every worker.
        port: the store's port.
        prefix: the attempt's key prefix (``attempt3/``).
        timeout_s: how long store operations (and rendezvous) may wait.
    """

    host: str
    port: int
    prefix: str
    timeout_s: float

    def key(self, name: str) -> str:
        """The full key of ``name`` in this attempt."""
        return f"{self.prefix}{name}"


class RendezvousHost:
    """The driver's side: owns the store for the duration of a run.

    Args:
        host: the address workers reach the driver on (loopback for local processes).
        timeout_s: the store's operation timeout.
    """

    def __init__(self, host: str = "127.0.0.1", timeout_s: float = 300.0) -> None:
        from torch.distributed import TCPStore  # type: ignore[attr-defined]

        self.host = host
        self.timeout_s = timeout_s
        self._store = TCPStore(
            host, 0, is_master=True, wait_for_workers=False, timeout=timedelta(seconds=timeout_s)
        )
        self.port = int(self._store.port)

    def info(self, attempt: int) -> RendezvousInfo:
        """The rendezvous of one attempt."""
        return RendezvousInfo(self.host, self.port, f"attempt{attempt}/", self.timeout_s)

    def abort(self, attempt: int) -> None:
        """Tell every worker of ``attempt`` to stop now."""
        self._store.set(self.info(attempt).key("abort"), "1")

    def read_json(self, attempt: int, name: str) -> Any:
        """A JSON value a worker published, or None when not there (yet)."""
        key = self.info(attempt).key(name)
        if not self._store.check([key]):
            return None
        return json.loads(self._store.get(key).decode())

    def close(self) -> None:
        """Stop serving (workers still connected see the driver gone)."""
        del self._store


def connect(info: RendezvousInfo) -> Any:
    """A worker's client connection to the driver's store."""
    from torch.distributed import TCPStore  # type: ignore[attr-defined]

    return TCPStore(
        info.host, info.port, is_master=False, timeout=timedelta(seconds=info.timeout_s)
    )


def publish_json(store: Any, info: RendezvousInfo, name: str, value: Any) -> None:
    """Publish a JSON value for the driver."""
    store.set(info.key(name), json.dumps(value))


class Watchdog(threading.Thread):
    """Ends this worker process when the driver aborts the attempt or goes away.

    Uses its own store connection, so it never contends with the training thread's.
    """

    def __init__(self, info: RendezvousInfo, interval_s: float = 0.1) -> None:
        super().__init__(name="runyard-train-watchdog", daemon=True)
        self._info = info
        self._interval = interval_s
        self._halt = threading.Event()
        self._store = connect(info)

    def run(self) -> None:
        """Poll the abort key until stopped."""
        key = self._info.key("abort")
        while not self._halt.wait(self._interval):
            try:
                aborted = self._store.check([key])
            except Exception:  # noqa: BLE001 - any store failure means the driver is gone
                os._exit(ORPHAN_EXIT_CODE)
            if aborted:
                os._exit(ABORT_EXIT_CODE)

    def stop(self) -> None:
        """Stop polling (the worker finished on its own)."""
        self._halt.set()
        self.join(timeout=5)
