"""Driver identity, heartbeats and the test of whether a driver is gone.

A driver id is ``host:pid:start:token``. A driver on this host is gone as soon as its
process is (the pid is dead, or reused by a process that started at another time); a
driver elsewhere is gone when its heartbeat is older than the lease.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid

import psutil

from runyard.errors import RunyardError
from runyard.sweeps.state import SweepState, now_ms

__all__ = ["LEASE_S", "Heartbeat", "driver_alive", "new_driver_id"]

LEASE_S = float(os.environ.get("RUNYARD_SWEEP_LEASE_S", "60"))
"""Seconds without a heartbeat after which a driver on another host counts as gone."""


def new_driver_id() -> str:
    """A fresh id for this driver process."""
    start = int(psutil.Process().create_time())
    return f"{socket.gethostname()}:{os.getpid()}:{start}:{uuid.uuid4().hex[:8]}"


def driver_alive(driver: str, last_beat_ms: int | None, lease_s: float = LEASE_S) -> bool:
    """Whether ``driver`` may still be running its trials."""
    host, _, rest = driver.partition(":")
    pid_text, _, rest = rest.partition(":")
    start_text = rest.partition(":")[0]
    if host == socket.gethostname() and pid_text.isdigit() and start_text.isdigit():
        try:
            proc = psutil.Process(int(pid_text))
            return proc.status() != psutil.STATUS_ZOMBIE and int(proc.create_time()) == int(
                start_text
            )
        except psutil.Error:
            return False
    return last_beat_ms is not None and now_ms() - last_beat_ms < lease_s * 1000


class Heartbeat:
    """A daemon thread that refreshes a driver's heartbeat until stopped.

    Args:
        state: the sweep.
        driver: this driver's id.
        interval_s: seconds between beats.
    """

    def __init__(self, state: SweepState, driver: str, interval_s: float = LEASE_S / 4) -> None:
        self._state = state
        self._driver = driver
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="runyard-sweep-heartbeat")
        self._thread.daemon = True

    def start(self) -> None:
        """Beat once now, then every interval."""
        self._state.heartbeat(self._driver)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._state.heartbeat(self._driver)
            except RunyardError:
                continue  # a missed beat is retried at the next interval

    def stop(self) -> None:
        """Stop beating."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
