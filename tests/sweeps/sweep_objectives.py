"""Tiny objectives the sweep tests run (importable by worker processes by module name)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import runyard.sweeps as rs


def quadratic(trial: rs.Trial) -> float:
    """Peaks at x = 2 (mode max)."""
    return -((trial.params["x"] - 2.0) ** 2)


def curve(trial: rs.Trial) -> float:
    """Nine reported steps that keep the ranking of x; good x values score high."""
    x = trial.params["x"]
    score = -((x - 2.0) ** 2)
    for step in range(9):
        score = -((x - 2.0) ** 2) - 1.0 / (step + 1)
        trial.report(score, step)
    return score


def fails_when_negative(trial: rs.Trial) -> float:
    x = trial.params["x"]
    if x < 0:
        raise ValueError(f"x={x:.3f} is negative")
    return x


def always_fails(trial: rs.Trial) -> float:
    raise RuntimeError("the data loader is broken")


def conditional(trial: rs.Trial) -> float:
    model = trial.suggest_categorical("model", ["linear", "tree"])
    if model == "linear":
        c = trial.suggest_float("c", 1e-3, 10.0, log=True)
        return 1.0 / (1.0 + abs(c - 1.0))
    depth = trial.suggest_int("depth", 1, 8)
    return depth / 10.0


def slow_logged(trial: rs.Trial) -> float:
    """Appends ``start <number> <pid>`` to $SWEEP_LOG, then takes a few tenths of a second."""
    log = Path(os.environ["SWEEP_LOG"])
    with log.open("a") as f:
        f.write(f"start {trial.number} {os.getpid()}\n")
    x = trial.params["x"]
    for step in range(3):
        time.sleep(float(os.environ.get("SWEEP_STEP_S", "0.15")))
        trial.report(x * (step + 1), step)
    return x


def epochs_done(trial: rs.Trial) -> float:
    """Nine epochs, each reported as the number of epochs done (steps 1..9)."""
    x = trial.params["x"]
    score = 0.0
    for epoch in range(1, 10):
        score = -((x - 2.0) ** 2) - 1.0 / epoch
        trial.report(score, epoch)
    return score


def epochs_on_ray(trial: rs.Trial) -> float:
    """``epochs_done``, after tagging the trial run with the Ray task it runs in."""
    import ray

    assert trial.run is not None
    trial.run.set_tag("test.ray_task", ray.get_runtime_context().get_task_id() or "driver")
    return epochs_done(trial)
