"""The flavor contract: how one kind of model is saved to a folder and loaded back.

A :class:`Flavor` turns an in-memory model into files plus a :class:`Signature`, and turns
those files back into a :class:`LoadedModel` that predicts on named numpy tensors. Flavors
import their framework lazily (inside methods), so that ``import runyard`` stays light.

Contract, for every flavor:

* ``save`` writes only inside ``path`` and returns the signature it saved; it raises
  :class:`~runyard.errors.InvalidArgument` when the model or its example is unusable, and
  :class:`~runyard.errors.MissingDependency` when the framework is not installed.
* ``load`` returns a model whose :meth:`LoadedModel.predict` is safe to call from one thread
  at a time (the serving batcher guarantees that) and never changes its signature.
* ``predict`` takes a batch (first dimension) and returns the same batch size.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runyard.registry.signature import Signature

__all__ = ["Flavor", "LoadedModel", "SavedModel", "Tensors", "as_tensors", "module_prefixes"]

Tensors = Mapping[str, np.ndarray[Any, Any]]
"""Named tensors: tensor name → numpy array (first dimension is the batch)."""


@dataclass(frozen=True, slots=True)
class SavedModel:
    """What :meth:`Flavor.save` wrote.

    Attributes:
        signature: the declared inputs and outputs.
        metadata: flavor facts worth keeping (format, parity error, framework version).
    """

    signature: Signature
    metadata: Mapping[str, Any] = field(default_factory=dict)


class LoadedModel(abc.ABC):
    """A model ready to predict on named tensors."""

    def __init__(self, signature: Signature) -> None:
        self._signature = signature

    @property
    def signature(self) -> Signature:
        """The model's inputs and outputs."""
        return self._signature

    @abc.abstractmethod
    def predict(self, inputs: Tensors) -> dict[str, np.ndarray[Any, Any]]:
        """Predict a batch: input name → array, to output name → array."""


class Flavor(abc.ABC):
    """One way of saving and loading models (torch, onnx, sklearn, python)."""

    name: str = ""

    @abc.abstractmethod
    def detects(self, model: object) -> bool:
        """True when ``model`` is an object of this flavor's framework."""

    @abc.abstractmethod
    def save(
        self,
        model: Any,
        path: Path,
        *,
        input_example: Any = None,
        signature: Signature | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> SavedModel:
        """Write ``model`` into the folder ``path`` and return what was saved."""

    @abc.abstractmethod
    def load(self, path: Path, saved: SavedModel) -> LoadedModel:
        """Load the files in ``path`` written by :meth:`save`."""


def module_prefixes(model: object) -> set[str]:
    """The top-level packages of the classes ``model`` is an instance of."""
    return {c.__module__.split(".", 1)[0] for c in type(model).__mro__}


def as_tensors(example: Any, default_name: str) -> dict[str, np.ndarray[Any, Any]]:
    """Normalise an example (array, tensor, or mapping of them) to named numpy arrays."""
    if isinstance(example, Mapping):
        return {str(k): _to_numpy(v) for k, v in example.items()}
    return {default_name: _to_numpy(example)}


def _to_numpy(value: Any) -> np.ndarray[Any, Any]:
    if hasattr(value, "detach"):  # a torch tensor, without importing torch
        return np.asarray(value.detach().cpu().numpy())
    return np.asarray(value)
