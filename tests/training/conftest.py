"""Shared pieces of the training tests: real worker processes on gloo, digits data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runyard.training import TrainResult, load_checkpoint, train
from tests.training.digits_loops import train_digits

CONFIG = {"lr": 0.05, "epochs": 4}


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
