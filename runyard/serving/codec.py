"""Open Inference Protocol tensors: JSON and raw bytes ↔ numpy, checked against a signature."""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from runyard.errors import InvalidArgument
from runyard.registry.signature import DATATYPES, Signature, TensorSpec, datatype_of, numpy_dtype
from runyard.serving._memo import remember

__all__ = [
    "InputTensor",
    "check_inputs",
    "decode_json_input",
    "decode_raw_input",
    "encode_json_output",
    "encode_raw_output",
]


@dataclass(slots=True)
class InputTensor:
    """One decoded request input (not frozen: a frozen dataclass costs ~0.35 µs more to make)."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    array: np.ndarray[Any, Any]


def _shape(raw: Any, name: str) -> tuple[int, ...]:
    if type(raw) is list:  # the common case: a JSON list of non-negative integers
        for d in raw:  # (a plain loop: a generator in all() costs ~0.4 µs more)
            if type(d) is not int or d < 0:
                break
        else:
            return tuple(raw)
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise InvalidArgument(f"input {name!r}: shape must be a list of integers")
    out = []
    for d in raw:
        if isinstance(d, bool) or not isinstance(d, int) or d < 0:
            raise InvalidArgument(f"input {name!r}: shape {list(raw)} has a bad dimension {d!r}")
        out.append(int(d))
    return tuple(out)


def _count(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


_DTYPES = {d: numpy_dtype(d) for d in DATATYPES}
_LITTLE = {d: t.newbyteorder("<") for d, t in _DTYPES.items()}  # raw tensor bytes' dtype
_DATATYPES: dict[np.dtype[Any], str] = {}
_ACCEPTED: dict[tuple[TensorSpec, tuple[int, ...]], bool] = {}
_ACCEPTED_MAX = 4096


def _accepts(spec: TensorSpec, shape: tuple[int, ...]) -> bool:
    """``spec.accepts_shape(shape)``, remembered (a request's shape is usually one seen)."""
    key = (spec, shape)
    found = _ACCEPTED.get(key)
    if found is None:
        found = remember(_ACCEPTED, key, spec.accepts_shape(shape), _ACCEPTED_MAX)
    return found


def _datatype_of(dtype: np.dtype[Any]) -> str:
    """:func:`datatype_of`, remembered per dtype (it is asked once per reply)."""
    found = _DATATYPES.get(dtype)
    if found is None:
        found = _DATATYPES[dtype] = datatype_of(dtype)
    return found


def decode_json_input(obj: Any) -> InputTensor:
    """Decode one ``inputs[]`` entry of a REST request (flat or nested ``data``)."""
    if type(obj) is not dict and not isinstance(obj, Mapping):  # a dict skips the ABC check
        raise InvalidArgument("each input must be an object with name, shape, datatype, data")
    name = obj.get("name")
    if not isinstance(name, str):
        raise InvalidArgument("an input has no name")
    datatype = obj.get("datatype")
    if not isinstance(datatype, str):
        raise InvalidArgument(f"input {name!r} has no datatype")
    dtype = _DTYPES.get(datatype)
    if dtype is None:
        dtype = numpy_dtype(datatype)  # raises: an unknown datatype
    shape = _shape(obj.get("shape"), name)
    if "data" not in obj:
        raise InvalidArgument(f"input {name!r} has no data")
    try:
        arr = np.asarray(obj["data"], dtype=dtype)
    except (ValueError, TypeError, OverflowError) as e:
        raise InvalidArgument(f"input {name!r}: data is not {datatype}: {e}") from e
    if arr.size != _count(shape):
        raise InvalidArgument(
            f"input {name!r}: shape {list(shape)} needs {_count(shape)} values, got {arr.size}"
        )
    return InputTensor(name, datatype, shape, arr.reshape(shape))


def decode_raw_input(name: str, datatype: str, shape: Sequence[int], raw: bytes) -> InputTensor:
    """Decode a gRPC ``raw_input_contents`` entry (little-endian; BYTES length-prefixed)."""
    dtype = _DTYPES.get(datatype)
    if dtype is None:
        dtype = numpy_dtype(datatype)  # raises: an unknown datatype
    dims = _shape(list(shape), name)
    n = _count(dims)
    if datatype == "BYTES":
        items: list[bytes] = []
        pos = 0
        while pos < len(raw):
            if pos + 4 > len(raw):
                raise InvalidArgument(f"input {name!r}: truncated BYTES element")
            (size,) = struct.unpack_from("<I", raw, pos)
            items.append(raw[pos + 4 : pos + 4 + size])
            pos += 4 + size
        arr = np.array(items, dtype=object)
    else:
        if len(raw) != n * dtype.itemsize:
            raise InvalidArgument(
                f"input {name!r}: shape {list(dims)} of {datatype} needs "
                f"{n * dtype.itemsize} bytes, got {len(raw)}"
            )
        arr = np.frombuffer(raw, dtype=_LITTLE[datatype])
    if arr.size != n:
        raise InvalidArgument(
            f"input {name!r}: shape {list(dims)} needs {n} values, got {arr.size}"
        )
    return InputTensor(name, datatype, dims, arr.reshape(dims))


def check_inputs(
    signature: Signature, tensors: Sequence[InputTensor], max_batch: int
) -> dict[str, np.ndarray[Any, Any]]:
    """Check names, datatypes, shapes and a common batch size; return name → array."""
    if len(tensors) == 1 and len(signature.inputs) == 1:  # the common case, without sets
        only, want = tensors[0], signature.inputs[0]
        if only.name == want.name and only.datatype == want.datatype and _accepts(want, only.shape):
            _check_batch_size(only.shape[0] if only.shape else None, max_batch)
            return {only.name: only.array}
    given = {t.name: t for t in tensors}
    if len(given) != len(tensors):
        raise InvalidArgument("an input name is repeated")
    unknown = sorted(set(given) - {s.name for s in signature.inputs})
    if unknown:
        raise InvalidArgument(
            f"unknown input(s) {unknown}; the model takes {[s.name for s in signature.inputs]}"
        )
    out: dict[str, np.ndarray[Any, Any]] = {}
    batch: int | None = None
    for spec in signature.inputs:
        t = given.get(spec.name)
        if t is None:
            raise InvalidArgument(
                f"missing input {spec.name!r} ({spec.datatype} {list(spec.shape)})"
            )
        if t.datatype != spec.datatype:
            raise InvalidArgument(f"input {spec.name!r} must be {spec.datatype}, got {t.datatype}")
        if not spec.accepts_shape(t.shape):
            raise InvalidArgument(
                f"input {spec.name!r} must have shape {list(spec.shape)}, got {list(t.shape)}"
            )
        if batch is not None and t.shape[0] != batch:
            raise InvalidArgument("inputs disagree on the batch size (first dimension)")
        batch = t.shape[0]
        out[spec.name] = t.array
    _check_batch_size(batch, max_batch)
    return out


def _check_batch_size(batch: int | None, max_batch: int) -> None:
    if batch is not None and batch > max_batch:
        raise InvalidArgument(f"batch of {batch} exceeds this server's limit of {max_batch} rows")


_ORJSON_NATIVE = frozenset(
    "BOOL INT8 INT16 INT32 INT64 UINT8 UINT16 UINT32 UINT64 FP32 FP64".split()
)


def encode_json_output(name: str, arr: np.ndarray[Any, Any]) -> dict[str, Any]:
    """One ``outputs[]`` entry of a REST response.

    Numeric data stays a numpy array (serialized by ``orjson`` with ``OPT_SERIALIZE_NUMPY``,
    no Python list in between); BYTES become strings.
    """
    datatype = _datatype_of(arr.dtype)
    data = arr.ravel()
    values: Any
    if datatype == "BYTES":
        values = [v.decode() if isinstance(v, bytes) else str(v) for v in data]
    elif datatype in _ORJSON_NATIVE and data.dtype.isnative:
        values = np.ascontiguousarray(data)
    else:
        values = data.tolist()
    return {"name": name, "datatype": datatype, "shape": list(arr.shape), "data": values}


def encode_raw_output(arr: np.ndarray[Any, Any]) -> tuple[str, list[int], bytes]:
    """(datatype, shape, raw little-endian bytes) of an output, for gRPC."""
    datatype = _datatype_of(arr.dtype)
    if datatype == "BYTES":
        parts = []
        for v in arr.ravel():
            b = v if isinstance(v, bytes) else str(v).encode()
            parts.append(struct.pack("<I", len(b)) + b)
        return datatype, list(arr.shape), b"".join(parts)
    le = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    return datatype, list(arr.shape), np.ascontiguousarray(le).tobytes()
