"""The PyTorch flavor: a ``torch.nn.Module`` saved with ``torch.export`` (or TorchScript).

Inputs are named ``input`` (one tensor) or ``input_0``, ``input_1`` … (several), outputs
``output`` (one tensor), ``output_0`` … (a tuple) or the keys of a returned dict. The batch
dimension is exported as dynamic, so any batch size is accepted after loading.
"""

from __future__ import annotations

import warnings
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
from runyard.registry.signature import Signature, infer_signature

__all__ = ["TorchFlavor", "import_torch", "name_outputs", "torch_inputs"]

_FORMATS = ("torch.export", "torchscript")


def import_torch() -> Any:
    """Import torch or raise MissingDependency."""
    try:
        import torch
    except ImportError as e:
        raise MissingDependency("torch", "torch") from e
    return torch


def torch_inputs(example: Any) -> dict[str, np.ndarray[Any, Any]]:
    """Name the example's tensors ``input`` or ``input_0`` …, with at least 2 rows."""
    if example is None:
        raise InvalidArgument("a torch model needs input_example= (a batch of inputs)")
    if isinstance(example, tuple | list):
        named = {f"input_{i}": as_tensors(v, "x")["x"] for i, v in enumerate(example)}
    else:
        named = as_tensors(example, "input")
    out = {}
    for k, v in named.items():
        if v.ndim == 0:
            raise InvalidArgument(f"input {k!r} of the example has no batch dimension")
        # torch.export specialises a batch of one; two rows keep the dimension dynamic.
        out[k] = np.concatenate([v, v]) if v.shape[0] == 1 else v
    return out


def name_outputs(result: Any) -> dict[str, np.ndarray[Any, Any]]:
    """Name a module's outputs: one tensor, a tuple of them, or a dict of them."""
    if isinstance(result, Mapping):
        return as_tensors(result, "output")
    if isinstance(result, tuple | list):
        return {f"output_{i}": as_tensors(v, "x")["x"] for i, v in enumerate(result)}
    return as_tensors(result, "output")


def _run(module: Any, torch: Any, inputs: Tensors, names: list[str]) -> Any:
    with torch.inference_mode():
        return module(*[torch.from_numpy(np.ascontiguousarray(inputs[n])) for n in names])


class TorchFlavor(Flavor):
    """Saves a module with ``torch.export`` (default) or TorchScript (``format="torchscript"``).

    Example:
        >>> from runyard.registry.flavors import get_flavor
        >>> get_flavor("torch").name
        'torch'
    """

    name = "torch"

    def detects(self, model: object) -> bool:
        """True for a ``torch.nn.Module``."""
        if "torch" not in module_prefixes(model):
            return False
        return bool(isinstance(model, import_torch().nn.Module))

    def save(
        self,
        model: Any,
        path: Path,
        *,
        input_example: Any = None,
        signature: Signature | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> SavedModel:
        """Export the module in eval mode and check the reloaded copy predicts the same."""
        torch = import_torch()
        fmt = str((options or {}).get("format", "torch.export"))
        if fmt not in _FORMATS:
            raise InvalidArgument(f"torch format must be one of {_FORMATS}, got {fmt!r}")
        inputs = torch_inputs(input_example)
        names = list(inputs)
        model.eval()
        expected = name_outputs(_run(model, torch, inputs, names))
        args = tuple(torch.from_numpy(np.ascontiguousarray(inputs[n])) for n in names)
        path.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecation chatter from inside torch
            try:
                if fmt == "torch.export":
                    batch = torch.export.Dim("batch", min=1)
                    shapes = tuple({0: batch} for _ in args)
                    program = torch.export.export(model, args, dynamic_shapes=shapes)
                    torch.export.save(program, str(path / "model.pt2"))
                else:
                    traced = torch.jit.trace(model, args)
                    torch.jit.save(traced, str(path / "model.ts"))
            except Exception as e:  # torch raises many types; all mean "cannot export"
                raise InvalidArgument(f"torch could not export the model ({fmt}): {e}") from e
        sig = signature or infer_signature(inputs, expected)
        return SavedModel(sig, {"format": fmt, "torch_version": str(torch.__version__)})

    def load(self, path: Path, saved: SavedModel) -> LoadedModel:
        """Load the exported program (or TorchScript module)."""
        torch = import_torch()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if saved.metadata.get("format") == "torchscript":
                module = torch.jit.load(str(path / "model.ts"))
            else:
                module = torch.export.load(str(path / "model.pt2")).module()
        return _LoadedTorch(saved.signature, module, torch)


class _LoadedTorch(LoadedModel):
    def __init__(self, signature: Signature, module: Any, torch: Any) -> None:
        super().__init__(signature)
        self._module = module
        self._torch = torch
        self._names = [t.name for t in signature.inputs]

    def predict(self, inputs: Tensors) -> dict[str, np.ndarray[Any, Any]]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return name_outputs(_run(self._module, self._torch, inputs, self._names))
