"""Sampling of system metrics (CPU, memory, GPU when present) onto a run."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

import psutil

__all__ = ["SystemMetricsSampler", "sample_system_metrics"]


def sample_system_metrics(process: psutil.Process | None = None) -> dict[str, float]:
    """One sample: machine CPU %, machine memory used, this process's RSS, GPU if any."""
    proc = process or psutil.Process()
    mem = psutil.virtual_memory()
    sample = {
        "system/cpu_percent": float(psutil.cpu_percent(interval=None)),
        "system/memory_used_mb": mem.used / 2**20,
        "system/memory_percent": float(mem.percent),
        "system/process_rss_mb": proc.memory_info().rss / 2**20,
    }
    sample.update(_gpu_sample())
    return sample


def _gpu_sample() -> dict[str, float]:
    import sys

    torch = sys.modules.get("torch")  # only when the user already imported torch
    if torch is None or not torch.cuda.is_available():
        return {}
    out: dict[str, float] = {}
    for i in range(torch.cuda.device_count()):
        free, total = torch.cuda.mem_get_info(i)
        out[f"system/gpu{i}_memory_used_mb"] = (total - free) / 2**20
        try:
            out[f"system/gpu{i}_utilization"] = float(torch.cuda.utilization(i))
        except Exception:  # noqa: BLE001 - utilization needs pynvml; memory is enough
            pass
    return out


class SystemMetricsSampler:
    """A daemon thread that logs :func:`sample_system_metrics` every ``interval`` seconds.

    Args:
        log: called with each sample and a step counter (``Run.log_metrics``).
        interval: seconds between samples.
    """

    def __init__(self, log: Callable[[Mapping[str, float], int], None], interval: float) -> None:
        self._log = log
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="runyard-sysmetrics", daemon=True)

    def start(self) -> None:
        """Start sampling (the first sample is taken at once)."""
        psutil.cpu_percent(interval=None)  # prime the CPU counter
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        step = 0
        while not self._stop.wait(self._interval if step else 0.05):
            self._log(sample_system_metrics(), step)
            step += 1
