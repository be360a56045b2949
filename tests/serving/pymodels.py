"""Python-flavor models for serving tests (importable by the server process)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np


class Constant:
    """Answers every row with one value; two versions differ by that value."""

    def __init__(self, value: float, delay: float = 0.0) -> None:
        self.value = value
        self.delay = delay

    def save(self, path: Path) -> None:
        (Path(path) / "c.json").write_text(json.dumps([self.value, self.delay]))

    @classmethod
    def load(cls, path: Path) -> Constant:
        value, delay = json.loads((Path(path) / "c.json").read_text())
        return cls(value, delay)

    def predict(self, inputs: dict[str, np.ndarray[Any, Any]]) -> dict[str, np.ndarray[Any, Any]]:
        if self.delay:
            time.sleep(self.delay)
        x = inputs["input"]
        return {"output": np.full((x.shape[0], 1), self.value, dtype=np.float32)}
