"""Model flavors, one module each: torch, onnx, sklearn, python.

Example:
    >>> from runyard.registry.flavors import get_flavor
    >>> sorted(FLAVORS)
    ['onnx', 'python', 'sklearn', 'torch']
"""

from __future__ import annotations

from runyard.errors import InvalidArgument
from runyard.registry.flavors.base import Flavor, LoadedModel, SavedModel, Tensors
from runyard.registry.flavors.onnx import OnnxFlavor
from runyard.registry.flavors.pyfunc import PythonFlavor
from runyard.registry.flavors.pytorch import TorchFlavor
from runyard.registry.flavors.sklearn import SklearnFlavor

__all__ = [
    "FLAVORS",
    "Flavor",
    "LoadedModel",
    "SavedModel",
    "Tensors",
    "detect_flavor",
    "get_flavor",
]

FLAVORS: dict[str, Flavor] = {
    f.name: f for f in (TorchFlavor(), OnnxFlavor(), SklearnFlavor(), PythonFlavor())
}
"""Flavor name → flavor. Detection tries them in this order."""

_ALIASES = {"pytorch": "torch", "scikit-learn": "sklearn", "pyfunc": "python"}


def get_flavor(name: str) -> Flavor:
    """The flavor called ``name``. Raises InvalidArgument for an unknown one."""
    flavor = FLAVORS.get(_ALIASES.get(name, name))
    if flavor is None:
        raise InvalidArgument(f"unknown flavor {name!r}; expected one of {sorted(FLAVORS)}")
    return flavor


def detect_flavor(model: object) -> Flavor:
    """The flavor of ``model``. Raises InvalidArgument when none recognises it."""
    for flavor in FLAVORS.values():
        if flavor.detects(model):
            return flavor
    raise InvalidArgument(
        f"cannot tell the flavor of a {type(model).__name__}; pass flavor= one of "
        f"{sorted(FLAVORS)}, or give the class save/load/predict"
    )
