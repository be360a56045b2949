"""The scikit-learn flavor: a fitted estimator, pickled.

One input ``input`` (``[-1, n_features]``); outputs ``predictions`` (what ``predict``
returns) and, for classifiers with ``predict_proba``, ``probabilities``.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from runyard.errors import InvalidArgument, MissingDependency
from runyard.registry.flavors.base import (
    Flavor,
    LoadedModel,
    SavedModel,
    Tensors,
    as_tensors,
    module_prefixes,
)
from runyard.registry.signature import Signature, TensorSpec, infer_signature

__all__ = ["SklearnFlavor"]


def _outputs(model: Any, x: np.ndarray[Any, Any]) -> dict[str, np.ndarray[Any, Any]]:
    out = {"predictions": np.asarray(model.predict(x))}
    if hasattr(model, "predict_proba"):
        out["probabilities"] = np.asarray(model.predict_proba(x))
    return out


class SklearnFlavor(Flavor):
    """Fitted scikit-learn estimators and pipelines.

    Example:
        >>> from runyard.registry.flavors import get_flavor
        >>> get_flavor("sklearn").name
        'sklearn'
    """

    name = "sklearn"

    def detects(self, model: object) -> bool:
        """True for a scikit-learn estimator with ``predict``."""
        return "sklearn" in module_prefixes(model) and hasattr(model, "predict")

    def save(
        self,
        model: Any,
        path: Path,
        *,
        input_example: Any = None,
        signature: Signature | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> SavedModel:
        """Pickle the estimator; the signature comes from the example or ``n_features_in_``."""
        try:
            import sklearn
        except ImportError as e:
            raise MissingDependency("scikit-learn", "sklearn") from e
        if signature is None:
            if input_example is not None:
                x = as_tensors(input_example, "input")["input"]
            elif hasattr(model, "n_features_in_"):
                x = np.zeros((2, int(model.n_features_in_)))
            else:
                raise InvalidArgument("an unfitted estimator; fit it or pass input_example=")
            try:
                outputs = _outputs(model, x)
            except Exception as e:  # the estimator's own validation errors
                raise InvalidArgument(f"the estimator cannot predict the example: {e}") from e
            signature = infer_signature({"input": x}, outputs)
        path.mkdir(parents=True, exist_ok=True)
        (path / "model.pkl").write_bytes(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
        return SavedModel(signature, {"sklearn_version": str(sklearn.__version__)})

    def load(self, path: Path, saved: SavedModel) -> LoadedModel:
        """Unpickle the estimator (only load models you trust, as with any pickle)."""
        model = pickle.loads((path / "model.pkl").read_bytes())  # noqa: S301 - own artifact
        return _LoadedSklearn(saved.signature, model)


class _LoadedSklearn(LoadedModel):
    def __init__(self, signature: Signature, model: Any) -> None:
        super().__init__(signature)
        self._model = model
        self._input: TensorSpec = signature.inputs[0]
        self._wanted = {t.name for t in signature.outputs}

    def predict(self, inputs: Tensors) -> dict[str, np.ndarray[Any, Any]]:
        out = _outputs(self._model, inputs[self._input.name])
        return {k: v for k, v in out.items() if k in self._wanted}
