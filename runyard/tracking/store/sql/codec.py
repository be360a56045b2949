"""Packing metric chunks: little-endian int64 / float64 arrays as bytes.

Example:
    >>> from array import array
    >>> unpack_int64(pack_int64(array("q", [1, 2]))).tolist()
    [1, 2]
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable

__all__ = ["concat_float64", "concat_int64", "pack_float64", "pack_int64", "unpack_int64"]

_SWAP = sys.byteorder != "little"


def _to_le(a: array[int] | array[float]) -> bytes:
    if _SWAP:
        a = array(a.typecode, a)
        a.byteswap()
    return a.tobytes()


def pack_int64(a: array[int]) -> bytes:
    """Pack an ``array('q')`` as little-endian bytes."""
    return _to_le(a)


def pack_float64(a: array[float]) -> bytes:
    """Pack an ``array('d')`` as little-endian bytes (NaN and ±inf kept bit for bit)."""
    return _to_le(a)


def concat_int64(chunks: Iterable[bytes]) -> array[int]:
    """Concatenate packed int64 chunks into one ``array('q')``."""
    out: array[int] = array("q")
    out.frombytes(b"".join(chunks))
    if _SWAP:
        out.byteswap()
    return out


def concat_float64(chunks: Iterable[bytes]) -> array[float]:
    """Concatenate packed float64 chunks into one ``array('d')``."""
    out: array[float] = array("d")
    out.frombytes(b"".join(chunks))
    if _SWAP:
        out.byteswap()
    return out


def unpack_int64(data: bytes) -> array[int]:
    """Unpack one int64 chunk."""
    return concat_int64((data,))
