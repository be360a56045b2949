"""The binary tensor data extension of the REST protocol (``binary_tensor_data``).

A request whose ``Inference-Header-Content-Length: N`` header is set carries a JSON header in
its first N bytes and raw tensor bytes after it. An input with ``"parameters":
{"binary_data_size": K}`` and no ``data`` takes the next K bytes, in the order the inputs
are listed (little-endian; BYTES elements each prefixed by a 4-byte length). Outputs are
answered the same way when asked for: ``"binary_data": true`` on a requested output, or
``"binary_data_output": true`` in the request's parameters for every output; the answer then
carries ``Inference-Header-Content-Length`` and ``"binary_data_size"`` on those outputs.

Example:
    >>> import numpy as np
    >>> body = (
    ...     b'{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32",'
    ...     b'"parameters":{"binary_data_size":8}}]}'
    ... )
    >>> head, rest = split_body(body + np.ones(2, np.float32).tobytes(), str(len(body)))
    >>> [t.array.tolist() for t in decode_inputs(parse_header(head)["inputs"], rest)]
    [[[1.0, 1.0]]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

import numpy as np
import orjson

from runyard.errors import InvalidArgument
from runyard.serving.codec import (
    InputTensor,
    decode_json_input,
    decode_raw_input,
    encode_json_output,
    encode_raw_output,
)

__all__ = [
    "EXTENSION",
    "HEADER",
    "decode_inputs",
    "encode_outputs",
    "parse_header",
    "split_body",
]

EXTENSION = "binary_tensor_data"
HEADER = "inference-header-content-length"


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, memoryview | None]:
    """(JSON header, binary part or None) of a request body, checked against the header."""
    if header_length is None:
        return body, None
    text = header_length.strip()
    if not text.isdigit():
        raise InvalidArgument(f"Inference-Header-Content-Length {header_length!r} is not a number")
    n = int(text)
    if n == 0 or n > len(body):
        raise InvalidArgument(
            f"Inference-Header-Content-Length {n} does not fit a body of {len(body)} bytes"
        )
    return body[:n], memoryview(body)[n:]


def parse_header(head: bytes) -> dict[str, Any]:
    """The JSON part of an inference request, checked to be an object with ``inputs``."""
    try:
        doc = orjson.loads(head)
    except orjson.JSONDecodeError as e:
        raise InvalidArgument(f"request body is not JSON: {e}") from e
    if not isinstance(doc, dict):
        raise InvalidArgument("request body must be a JSON object with 'inputs'")
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidArgument("request needs a non-empty 'inputs' list")
    return doc


def _is_mapping(obj: Any) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(obj, Mapping)``; a plain dict (what JSON gives) skips the ABC check."""
    return type(obj) is dict or isinstance(obj, Mapping)


def _binary_size(obj: Any) -> int | None:
    params = obj.get("parameters") if _is_mapping(obj) else None
    if not _is_mapping(params) or "binary_data_size" not in params:
        return None
    size = params["binary_data_size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidArgument(f"binary_data_size {size!r} must be a non-negative integer")
    return size


def decode_inputs(raw_inputs: Sequence[Any], binary: memoryview | None) -> list[InputTensor]:
    """Decode ``inputs[]``: JSON ``data``, or the next ``binary_data_size`` bytes of ``binary``."""
    out: list[InputTensor] = []
    pos = 0
    for obj in raw_inputs:
        if type(obj) is dict and "parameters" not in obj:  # the common case: JSON data
            out.append(decode_json_input(obj))
            continue
        size = _binary_size(obj)
        if size is None:
            out.append(decode_json_input(obj))
            continue
        name = obj.get("name")
        if not isinstance(name, str) or not isinstance(obj.get("datatype"), str):
            raise InvalidArgument("each input must be an object with name, shape, datatype")
        if "data" in obj:
            raise InvalidArgument(f"input {name!r} has both data and binary_data_size")
        if binary is None:
            raise InvalidArgument(
                f"input {name!r} declares binary_data_size but the request has no "
                "Inference-Header-Content-Length header"
            )
        if pos + size > len(binary):
            raise InvalidArgument(
                f"input {name!r} declares {size} bytes of binary data; only "
                f"{len(binary) - pos} remain in the body"
            )
        shape = obj.get("shape")
        if not isinstance(shape, list):
            raise InvalidArgument(f"input {name!r}: shape must be a list of integers")
        chunk = bytes(binary[pos : pos + size])
        out.append(decode_raw_input(name, obj["datatype"], shape, chunk))
        pos += size
    if binary is not None and pos != len(binary):
        raise InvalidArgument(
            f"the body has {len(binary) - pos} bytes of binary data no input declares"
        )
    return out


def _flag(params: Any, key: str) -> bool | None:
    if not _is_mapping(params) or key not in params:
        return None
    value = params[key]
    if not isinstance(value, bool):
        raise InvalidArgument(f"parameter {key!r} must be true or false, got {value!r}")
    return value


def requested_outputs(doc: Mapping[str, Any]) -> tuple[list[str], dict[str, bool], bool]:
    """(requested names, name → binary flag given, default binary) from a request."""
    if "outputs" not in doc and "parameters" not in doc:
        return [], {}, False  # the common case: every output, as JSON
    default = bool(_flag(doc.get("parameters"), "binary_data_output"))
    outputs = doc.get("outputs") or []
    if not isinstance(outputs, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
    ):
        raise InvalidArgument("'outputs' must be a list of objects with a name")
    flags: dict[str, bool] = {}
    for o in outputs:
        flag = _flag(o.get("parameters"), "binary_data")
        if flag is not None:
            flags[o["name"]] = flag
    return [o["name"] for o in outputs], flags, default


def encode_outputs(
    out: Mapping[str, np.ndarray[Any, Any]], flags: Mapping[str, bool], default: bool
) -> tuple[list[dict[str, Any]], list[bytes]]:
    """(``outputs[]`` JSON entries, the binary chunks to append in their order)."""
    entries: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for name, arr in out.items():
        if flags.get(name, default):
            datatype, shape, raw = encode_raw_output(arr)
            entries.append(
                {
                    "name": name,
                    "datatype": datatype,
                    "shape": shape,
                    "parameters": {"binary_data_size": len(raw)},
                }
            )
            chunks.append(raw)
        else:
            entries.append(encode_json_output(name, arr))
    return entries, chunks
