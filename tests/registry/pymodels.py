"""A user model class of the generic python flavor (importable, as the flavor requires)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


class Centroids:
    """Nearest-centroid classifier with save/load/predict: the python flavor's contract."""

    def __init__(self, centroids: np.ndarray[Any, Any]) -> None:
        self.centroids = centroids

    def save(self, path: Path) -> None:
        (Path(path) / "centroids.json").write_text(json.dumps(self.centroids.tolist()))

    @classmethod
    def load(cls, path: Path) -> Centroids:
        return cls(np.asarray(json.loads((Path(path) / "centroids.json").read_text())))

    def predict(self, inputs: dict[str, np.ndarray[Any, Any]]) -> dict[str, np.ndarray[Any, Any]]:
        x = inputs["input"]
        d = ((x[:, None, :] - self.centroids[None]) ** 2).sum(-1)
        return {"label": d.argmin(1).astype(np.int64)}
