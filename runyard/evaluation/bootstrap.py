"""Poisson bootstrap weights from a counter-based generator, and percentile intervals.

The weight of example ``i`` in replicate ``r`` is a pure function of ``(seed, id_i, r)``:
the id is hashed to 64 bits (:func:`id_hashes`), mixed with the seed, and combined with a
per-replicate constant through a 32-bit finaliser (MurmurHash3 ``fmix32`` style); the top 16
bits index a table of the Poisson(1) inverse CDF. No state is carried from row to row, so a
shard computes exactly the weights the unsharded run gives the same examples, and two models
evaluated on the same examples with the same seed see the same resamples (which is what makes
:func:`runyard.evaluation.compare` a paired bootstrap).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["id_hashes", "percentile_interval", "poisson_weights"]

U64 = npt.NDArray[np.uint64]
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix(x: U64) -> U64:
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def _poisson_table(bits: int = 16) -> npt.NDArray[np.float32]:
    size = 1 << bits
    u = (np.arange(size) + 0.5) / size
    cdf = np.cumsum([math.exp(-1.0) / math.factorial(k) for k in range(20)])
    return np.searchsorted(cdf, u, side="right").astype(np.float32)


_TABLE = _poisson_table()


def id_hashes(ids: pa.Array | pa.ChunkedArray | None, offset: int, n: int) -> U64:
    """64-bit hashes of example ids; the global row number when ``ids`` is None.

    Integers hash their value, strings and binaries their bytes, other types their string
    form; so the same id gives the same hash in every shard and every process.
    """
    if ids is None:
        return _splitmix(np.arange(offset, offset + n, dtype=np.uint64))
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    t = ids.type
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        values = pc.cast(ids, pa.int64()).to_numpy(zero_copy_only=False)
        return _splitmix(values.astype(np.int64).view(np.uint64))
    if not (pa.types.is_string(t) or pa.types.is_binary(t)):
        ids = pc.cast(ids, pa.string())
    ids = pc.cast(ids, pa.large_binary())
    return _bytes_hash(ids)


def _bytes_hash(arr: pa.Array) -> U64:
    """A polynomial hash of each value's bytes, vectorised over the Arrow buffers."""
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    start, end = offsets[0], offsets[-1]
    data = data[start:end].astype(np.uint64)
    lengths = np.diff(offsets)
    n = len(lengths)
    if data.size == 0:
        return _splitmix(lengths.astype(np.uint64))
    row = np.repeat(np.arange(n), lengths)
    pos_from_end = (offsets[1:][row] - start) - np.arange(data.size) - 1
    powers = _powers(int(lengths.max()))
    with np.errstate(over="ignore"):
        terms = (data + np.uint64(1)) * powers[pos_from_end]
        cumulative = np.concatenate([np.zeros(1, np.uint64), np.cumsum(terms, dtype=np.uint64)])
        sums = cumulative[offsets[1:] - start] - cumulative[offsets[:-1] - start]
        return _splitmix(sums ^ (lengths.astype(np.uint64) * _M2))


def _powers(n: int) -> U64:
    out = np.empty(n, dtype=np.uint64)
    acc = 1
    for i in range(n):
        out[i] = acc
        acc = (acc * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return out


def poisson_weights(hashes: U64, seed: int, replicates: int) -> npt.NDArray[np.float32]:
    """Poisson(1) weights of shape (rows, replicates) for the examples with ``hashes``."""
    with np.errstate(over="ignore"):
        mixed = _splitmix(hashes ^ _splitmix(np.array([seed], dtype=np.uint64)))
        a = (mixed & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        c = (
            _splitmix(np.arange(1, replicates + 1, dtype=np.uint64) + np.uint64(seed) * _M1)
            & np.uint64(0xFFFFFFFF)
        ).astype(np.uint32)
        x = np.bitwise_xor(a[:, None], c[None, :])
        x *= np.uint32(0x85EBCA6B)
        x ^= x >> np.uint32(13)
        x *= np.uint32(0xC2B2AE35)
        x ^= x >> np.uint32(16)
        x *= np.uint32(0x27D4EB2F)
        return _TABLE[(x >> np.uint32(16)).astype(np.uint16)]


def percentile_interval(
    replicates: npt.NDArray[np.float64], confidence: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Percentile interval over the last axis, ignoring NaN replicates (NaN if all are)."""
    if replicates.shape[-1] == 0:
        nan = np.full(replicates.shape[:-1], np.nan)
        return nan, nan.copy()
    alpha = (1.0 - confidence) / 2.0
    finite = np.isfinite(replicates)
    if finite.all():
        q = np.quantile(replicates, [alpha, 1.0 - alpha], axis=-1)
        return q[0], q[1]
    low = np.full(replicates.shape[:-1], np.nan)
    high = low.copy()
    some = finite.any(axis=-1)
    if some.any():
        with np.errstate(all="ignore"):
            q = np.nanquantile(
                np.where(finite, replicates, np.nan)[some], [alpha, 1 - alpha], axis=-1
            )
        low[some], high[some] = q[0], q[1]
    return low, high
