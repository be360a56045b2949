"""The generic Python flavor: any class with ``save(path)``, ``load(path)`` and ``predict``.

The class must be importable where the model is loaded (its ``module:qualname`` is kept).
``predict`` takes a dict of named numpy arrays and returns a dict of them (or one array,
named ``output``). The signature is given (``signature=``) or inferred by predicting the
input example.

Example:
    >>> class Doubler:
    ...     def save(self, path): pass
    ...     @classmethod
    ...     def load(cls, path): return cls()
    ...     def predict(self, inputs): return {"y": inputs["x"] * 2}
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from runyard.errors import InvalidArgument, UserCodeError
from runyard.registry.flavors.base import Flavor, LoadedModel, SavedModel, Tensors, as_tensors
from runyard.registry.signature import Signature, infer_signature

__all__ = ["PythonFlavor"]


def _named(result: Any) -> dict[str, np.ndarray[Any, Any]]:
    return as_tensors(result, "output")


class PythonFlavor(Flavor):
    """User classes with ``save``/``load``/``predict``.

    Example:
        >>> from runyard.registry.flavors import get_flavor
        >>> get_flavor("python").name
        'python'
    """

    name = "python"

    def detects(self, model: object) -> bool:
        """True for an object with ``predict`` and ``save`` whose class has ``load``."""
        cls = type(model)
        return all(callable(getattr(model, a, None)) for a in ("predict", "save")) and callable(
            getattr(cls, "load", None)
        )

    def save(
        self,
        model: Any,
        path: Path,
        *,
        input_example: Any = None,
        signature: Signature | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> SavedModel:
        """Call ``model.save(path / "data")`` and record the class to load it with."""
        if not self.detects(model):
            raise InvalidArgument(
                f"{type(model).__name__} needs save(path), a classmethod load(path) and "
                "predict(inputs) to be a python-flavor model"
            )
        cls = type(model)
        if "<locals>" in cls.__qualname__ or cls.__module__ == "__main__":
            raise InvalidArgument(
                f"{cls.__qualname__} must be importable (defined at module level of an "
                "importable module) so that it can be loaded elsewhere"
            )
        if signature is None:
            if input_example is None:
                raise InvalidArgument("a python model needs signature= or input_example=")
            inputs = as_tensors(input_example, "input")
            try:
                outputs = _named(model.predict(inputs))
            except Exception as e:  # the user's predict
                raise UserCodeError(f"{cls.__qualname__}.predict", e) from e
            signature = infer_signature(inputs, outputs)
        data = path / "data"
        data.mkdir(parents=True, exist_ok=True)
        try:
            model.save(data)
        except Exception as e:  # the user's save
            raise UserCodeError(f"{cls.__qualname__}.save", e) from e
        return SavedModel(signature, {"class": f"{cls.__module__}:{cls.__qualname__}"})

    def load(self, path: Path, saved: SavedModel) -> LoadedModel:
        """Import the recorded class and call its ``load``."""
        target = str(saved.metadata.get("class", ""))
        module_name, _, qualname = target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in qualname.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as e:
            raise InvalidArgument(f"cannot import the model class {target!r}: {e}") from e
        try:
            model = obj.load(path / "data")
        except Exception as e:  # the user's load
            raise UserCodeError(f"{qualname}.load", e) from e
        return _LoadedPython(saved.signature, model)


class _LoadedPython(LoadedModel):
    def __init__(self, signature: Signature, model: Any) -> None:
        super().__init__(signature)
        self._model = model

    def predict(self, inputs: Tensors) -> dict[str, np.ndarray[Any, Any]]:
        return _named(self._model.predict(dict(inputs)))
