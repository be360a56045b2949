"""Serializers chosen by an output's type, for storing step outputs in the artifact store.

In order of preference: JSON (plain Python data), NumPy ``.npy``, Parquet for pandas and
polars frames and Arrow tables, ``torch.save`` for tensors and state dicts (loaded with
``weights_only=True``), and finally pickle. Pickle is only a fallback: a step that does not
declare ``serializer="pickle"`` gets a :class:`PickleFallbackWarning` when its output needs
it. Projects add formats with :func:`register_serializer`.

Example:
    >>> from runyard.pipelines.serializers import dump, load
    >>> name, data = dump({"acc": 0.91, "classes": (0, 1)})
    >>> name, load(name, data)
    ('json', {'acc': 0.91, 'classes': (0, 1)})
"""

from __future__ import annotations

import io
import json
import pickle
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from runyard.errors import InvalidArgument

__all__ = [
    "PickleFallbackWarning",
    "Serializer",
    "Unstorable",
    "dump",
    "get_serializer",
    "load",
    "register_serializer",
]


class PickleFallbackWarning(UserWarning):
    """A step output was stored with pickle because no other serializer handles its type."""


class Unstorable(InvalidArgument):
    """No serializer could store a value; the output is kept in memory only."""


@dataclass(frozen=True, slots=True)
class Serializer:
    """A way to turn values of some types into bytes and back.

    Attributes:
        name: a stable name, recorded with each stored output.
        extension: the file extension of the stored blob.
        handles: whether this serializer takes a value.
        dump: value → bytes.
        load: bytes → value.
    """

    name: str
    extension: str
    handles: Callable[[Any], bool]
    dump: Callable[[Any], bytes]
    load: Callable[[bytes], Any]


def _top_module(value: Any) -> str:
    return type(value).__module__.partition(".")[0]


# -- JSON (tuples kept as tuples) ---------------------------------------------------------

_TUPLE = "__runyard_tuple__"
_SCALARS = (str, int, float, bool, type(None))


def _json_able(value: Any, depth: int = 0) -> bool:
    if depth > 100:
        return False
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind in (list, tuple):
        return all(_json_able(v, depth + 1) for v in value)
    if kind is dict:
        return _TUPLE not in value and all(
            type(k) is str and _json_able(v, depth + 1) for k, v in value.items()
        )
    return False


def _to_json(value: Any) -> Any:
    if type(value) is tuple:
        return {_TUPLE: [_to_json(v) for v in value]}
    if type(value) is list:
        return [_to_json(v) for v in value]
    if type(value) is dict:
        return {k: _to_json(v) for k, v in value.items()}
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and _TUPLE in value:
            return tuple(_from_json(v) for v in value[_TUPLE])
        return {k: _from_json(v) for k, v in value.items()}
    return value


def _json_dump(value: Any) -> bytes:
    return json.dumps(_to_json(value), separators=(",", ":")).encode()


def _json_load(data: bytes) -> Any:
    return _from_json(json.loads(data))


# -- numpy, frames, torch -------------------------------------------------------------------


def _is_ndarray(value: Any) -> bool:
    return (
        _top_module(value) == "numpy"
        and type(value).__name__ == "ndarray"
        and not value.dtype.hasobject
    )


def _npy_dump(value: Any) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, value, allow_pickle=False)
    return buf.getvalue()


def _npy_load(data: bytes) -> Any:
    import numpy as np

    return np.load(io.BytesIO(data), allow_pickle=False)


def _is_array_dict(value: Any) -> bool:
    return (
        type(value) is dict
        and len(value) > 0
        and all(type(k) is str and _is_ndarray(v) for k, v in value.items())
    )


def _npz_dump(value: Any) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.savez(buf, allow_pickle=False, **value)
    return buf.getvalue()


def _npz_load(data: bytes) -> Any:
    import numpy as np

    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}


def _is_pandas_frame(value: Any) -> bool:
    return _top_module(value) == "pandas" and type(value).__name__ == "DataFrame"


def _pandas_dump(value: Any) -> bytes:
    buf = io.BytesIO()
    value.to_parquet(buf)
    return buf.getvalue()


def _pandas_load(data: bytes) -> Any:
    import pandas as pd

    return pd.read_parquet(io.BytesIO(data))


def _is_polars_frame(value: Any) -> bool:
    return _top_module(value) == "polars" and type(value).__name__ == "DataFrame"


def _polars_dump(value: Any) -> bytes:
    buf = io.BytesIO()
    value.write_parquet(buf)
    return buf.getvalue()


def _polars_load(data: bytes) -> Any:
    import polars as pl

    return pl.read_parquet(io.BytesIO(data))


def _is_arrow_table(value: Any) -> bool:
    return _top_module(value) == "pyarrow" and type(value).__name__ == "Table"


def _arrow_dump(value: Any) -> bytes:
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(value, buf)
    return buf.getvalue()


def _arrow_load(data: bytes) -> Any:
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data))


def _is_tensor(value: Any) -> bool:
    return _top_module(value) == "torch" and type(value).__name__ in ("Tensor", "Parameter")


def _is_torch_state(value: Any) -> bool:
    if _is_tensor(value):
        return True
    return (
        isinstance(value, Mapping)
        and len(value) > 0
        and all(isinstance(k, str) and _is_tensor(v) for k, v in value.items())
    )


def _torch_dump(value: Any) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(value, buf)
    return buf.getvalue()


def _torch_load(data: bytes) -> Any:
    import torch

    return torch.load(io.BytesIO(data), weights_only=True)


def _pickle_dump(value: Any) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _pickle_load(data: bytes) -> Any:
    return pickle.loads(data)  # noqa: S301 - only blobs this runyard wrote, by declared fallback


PICKLE = Serializer("pickle", "pkl", lambda v: True, _pickle_dump, _pickle_load)

_REGISTRY: list[Serializer] = [
    Serializer("json", "json", _json_able, _json_dump, _json_load),
    Serializer("numpy", "npy", _is_ndarray, _npy_dump, _npy_load),
    Serializer("numpy-dict", "npz", _is_array_dict, _npz_dump, _npz_load),
    Serializer("pandas-parquet", "parquet", _is_pandas_frame, _pandas_dump, _pandas_load),
    Serializer("polars-parquet", "parquet", _is_polars_frame, _polars_dump, _polars_load),
    Serializer("arrow-parquet", "parquet", _is_arrow_table, _arrow_dump, _arrow_load),
    Serializer("torch", "pt", _is_torch_state, _torch_dump, _torch_load),
]


def register_serializer(serializer: Serializer) -> None:
    """Add a serializer, tried before the built-in ones.

    Raises:
        InvalidArgument: the name is taken.
    """
    if serializer.name == PICKLE.name or any(s.name == serializer.name for s in _REGISTRY):
        raise InvalidArgument(f"a serializer named {serializer.name!r} exists already")
    _REGISTRY.insert(0, serializer)


def get_serializer(name: str) -> Serializer:
    """The serializer with that name. Raises InvalidArgument naming the known ones."""
    for s in (*_REGISTRY, PICKLE):
        if s.name == name:
            return s
    known = ", ".join(s.name for s in (*_REGISTRY, PICKLE))
    raise InvalidArgument(f"unknown serializer {name!r}; known: {known}")


def dump(value: Any, declared: str | None = None, where: str = "an output") -> tuple[str, bytes]:
    """Serialize ``value``; returns the serializer's name and the bytes.

    Args:
        value: the output to store.
        declared: a serializer name the step declared (None: choose by type).
        where: what produced the value, for the pickle warning (``"step 'train'"``).

    Raises:
        Unstorable: no serializer could write the value (pickle included).
    """
    if declared is not None:
        chosen = get_serializer(declared)
        try:
            return chosen.name, chosen.dump(value)
        except Exception as e:  # a third-party writer failed on this value
            raise Unstorable(
                f"serializer {declared!r} could not store a {type(value).__name__}: {e}"
            ) from e
    for s in _REGISTRY:
        if s.handles(value):
            try:
                return s.name, s.dump(value)
            except Exception:  # e.g. parquet refusing a frame; try the next format
                continue
    try:
        data = PICKLE.dump(value)
    except Exception as e:  # pickling runs arbitrary __reduce__ code
        raise Unstorable(f"no serializer can store a {type(value).__name__}: {e}") from e
    warnings.warn(
        f"{where}: storing a {type(value).__module__}.{type(value).__qualname__} with pickle; "
        "declare serializer='pickle' on the step to accept this, or register a serializer",
        PickleFallbackWarning,
        stacklevel=2,
    )
    return PICKLE.name, data


def load(name: str, data: bytes) -> Any:
    """Read a value stored by :func:`dump` with serializer ``name``.

    Raises:
        InvalidArgument: an unknown serializer.
        Unstorable: the bytes could not be read back.
    """
    try:
        return get_serializer(name).load(data)
    except InvalidArgument:
        raise
    except Exception as e:  # the reader of a third-party format failed
        raise Unstorable(f"could not read a stored {name} output: {e}") from e
