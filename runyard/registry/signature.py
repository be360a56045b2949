"""Tensor signatures: the named, typed, shaped inputs and outputs a model declares.

Datatypes use the Open Inference Protocol names (``FP32``, ``INT64``, ``BYTES`` …) so that a
signature is what the serving layer advertises in model metadata, unchanged. A dimension of
``-1`` is variable; the first dimension is the batch dimension.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from runyard.errors import InvalidArgument

__all__ = [
    "DATATYPES",
    "Signature",
    "TensorSpec",
    "datatype_of",
    "infer_signature",
    "numpy_dtype",
]

DATATYPES: dict[str, str] = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": "object",
}
"""Open Inference Protocol datatype → numpy dtype name."""

_BY_NUMPY = {v: k for k, v in DATATYPES.items()}


def numpy_dtype(datatype: str) -> np.dtype[Any]:
    """The numpy dtype of an OIP datatype. Raises InvalidArgument for an unknown one."""
    name = DATATYPES.get(datatype)
    if name is None:
        raise InvalidArgument(f"unknown datatype {datatype!r}; expected one of {list(DATATYPES)}")
    return np.dtype(name)


def datatype_of(dtype: np.dtype[Any] | type | str) -> str:
    """The OIP datatype of a numpy dtype (strings and bytes are ``BYTES``)."""
    dt = np.dtype(dtype)
    if dt.kind in ("U", "S", "O"):
        return "BYTES"
    found = _BY_NUMPY.get(dt.name)
    if found is None:
        raise InvalidArgument(f"numpy dtype {dt.name!r} has no Open Inference Protocol datatype")
    return found


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One named tensor of a signature.

    Attributes:
        name: the tensor name clients use.
        datatype: an OIP datatype (``FP32``, ``INT64`` …).
        shape: dimensions; ``-1`` is variable (the first is the batch dimension).

    Example:
        >>> TensorSpec("input", "FP32", (-1, 64)).accepts_shape((5, 64))
        True
    """

    name: str
    datatype: str
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        numpy_dtype(self.datatype)

    def accepts_shape(self, shape: Sequence[int]) -> bool:
        """True when ``shape`` has this rank and matches every fixed dimension."""
        return len(shape) == len(self.shape) and all(
            want == -1 or want == got for want, got in zip(self.shape, shape, strict=True)
        )

    def to_dict(self) -> dict[str, Any]:
        """``{"name", "datatype", "shape"}``, the OIP metadata form."""
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TensorSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(str(data["name"]), str(data["datatype"]), tuple(int(d) for d in data["shape"]))


@dataclass(frozen=True, slots=True)
class Signature:
    """The inputs and outputs of a model.

    Example:
        >>> sig = Signature((TensorSpec("input", "FP32", (-1, 64)),),
        ...                 (TensorSpec("output", "FP32", (-1, 10)),))
        >>> Signature.from_dict(sig.to_dict()) == sig
        True
    """

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def input(self, name: str) -> TensorSpec | None:
        """The input called ``name``, or None."""
        return next((t for t in self.inputs if t.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        """Inverse of :meth:`to_dict`."""
        return cls(
            tuple(TensorSpec.from_dict(t) for t in data["inputs"]),
            tuple(TensorSpec.from_dict(t) for t in data["outputs"]),
        )


def _spec(name: str, value: Any) -> TensorSpec:
    arr = np.asarray(value)
    if arr.ndim == 0:
        raise InvalidArgument(f"tensor {name!r} is a scalar; a batch dimension is needed")
    return TensorSpec(name, datatype_of(arr.dtype), (-1, *arr.shape[1:]))


def infer_signature(inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> Signature:
    """A signature from example tensors; the first dimension becomes variable (the batch).

    Example:
        >>> import numpy as np
        >>> infer_signature({"x": np.zeros((2, 3), "float32")}, {"y": np.zeros(2)}).inputs
        (TensorSpec(name='x', datatype='FP32', shape=(-1, 3)),)
    """
    return Signature(
        tuple(_spec(k, v) for k, v in inputs.items()),
        tuple(_spec(k, v) for k, v in outputs.items()),
    )
