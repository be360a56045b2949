"""Shared pieces of the training tests: real worker processes on gloo, digits data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from runyard.training import TrainResult, load_checkpoint, train
from tests.training.digits_loops import train_digits

CONFIG = {"lr": 0.05, "epochs": 4}
ROOT = Path(__file__).parents[2]


def run_script(code: str, home: Path, prefix: Sequence[str] = ()) -> Any:
    """Run ``code`` in a fresh Python (after ``prefix``, e.g. ``nice -n 5``) with its own
    runyard home; return the JSON its last line printed."""
    proc = subprocess.run(
        [*prefix, sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, "RUNYARD_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def final_weights(result: TrainResult) -> dict[str, Any]:
    assert result.checkpoint is not None
    weights: dict[str, Any] = load_checkpoint(result.checkpoint)["model"]
    return weights


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The final weights of an uninterrupted 2-worker run (seed 0), in its own home."""
    home: Path = tmp_path_factory.mktemp("reference-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("RUNYARD_HOME", str(home))
    try:
        result = train(train_digits, config=CONFIG, workers=2, experiment="reference")
        return {"weights": final_weights(result), "metrics": dict(result.metrics)}
    finally:
        mp.undo()
