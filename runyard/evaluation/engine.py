"""The per-shard pass: decode batches, tally them with bootstrap weights, merge shard states.

For each batch the engine builds one sparse matrix with a column per row and a non-zero per
(unit, tally) the row feeds, then multiplies it by the (rows x replicates) Poisson weight
matrix: every tally of every slice cell for every replicate in one product. Point values
(replicate 0, unit weights) are computed separately in float64 with ``np.bincount``, so they
match scikit-learn to float rounding. States are sums, so merging shards is addition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from runyard.evaluation.bootstrap import id_hashes, poisson_weights
from runyard.evaluation.inputs import Shard
from runyard.evaluation.metrics.base import BatchView
from runyard.evaluation.plan import EvalPlan

__all__ = ["ShardState", "evaluate_shard", "merge_states"]

_MASK = (1 << 64) - 1
ScoreCounts = tuple[
    npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]
]


@dataclass
class ShardState:
    """What one shard returns: tally sums, exact score counts, failure candidates, id fingerprint.

    Attributes:
        tallies: (layout size, replicates + 1) weighted sums; column 0 has unit weights.
        score_counts: per unit, (cell code, score, positives, negatives) sorted by cell then score.
        failures: the most confident errors seen, at most ``plan.keep_failures`` rows.
        fingerprint: (rows, sum of id hashes, sum of re-mixed id hashes) modulo 2**64.
    """

    tallies: npt.NDArray[np.float64]
    score_counts: list[ScoreCounts | None] = field(default_factory=list)
    failures: pa.Table | None = None
    fingerprint: tuple[int, int, int] = (0, 0, 0)


def decode(batch: pa.RecordBatch, plan: EvalPlan) -> BatchView:
    """The label, prediction and score of a batch as numpy arrays (classes as codes)."""

    def codes(col: str) -> npt.NDArray[Any]:
        arr = batch.column(col)
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        if plan.classes is None:
            return np.asarray(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False))
        arr = pc.cast(arr, plan.classes.type, safe=False)
        return np.asarray(
            pc.index_in(arr, value_set=plan.classes).to_numpy(zero_copy_only=False), np.int64
        )

    y = codes(plan.label)
    y_hat = codes(plan.prediction) if plan.prediction else None
    score = None
    if plan.score:
        score = np.asarray(
            pc.cast(batch.column(plan.score), pa.float64()).to_numpy(zero_copy_only=False)
        )
        if y_hat is None:
            y_hat = (score >= 0.5).astype(np.int64) * plan.ctx.positive + (score < 0.5) * (
                1 - plan.ctx.positive
            )
    columns: dict[str, Any] = {}
    if plan.extra_columns or any(hasattr(m, "extra_columns") for m in plan.metrics):
        columns = {n: batch.column(n).to_numpy(zero_copy_only=False) for n in batch.schema.names}
    return BatchView(y, y_hat, score, columns)


def evaluate_shard(shard: Shard, plan: EvalPlan) -> ShardState:
    """Tally one shard (runs on a worker; pure function of its arguments)."""
    offsets, total = plan.layout()
    reps = plan.replicates
    state = ShardState(np.zeros((total, reps + 1)), [None] * len(plan.units))
    fp = [0, 0, 0]
    row = shard.offset
    candidates: list[pa.Table] = []
    pending: list[list[ScoreCounts]] = [[] for _ in plan.units]
    for batch in shard.batches(plan.columns, plan.batch_size):
        n = batch.num_rows
        if n == 0:
            continue
        view = decode(batch, plan)
        slice_codes = [s.codes(batch.column(s.column)) for s in plan.slice_columns]
        unit_codes = [_ravel(slice_codes, u, plan, n) for u in plan.units]
        keys = np.empty((n, len(plan.units) * len(plan.tallies)), dtype=np.int64)
        vals = np.ones_like(keys, dtype=np.float64)
        j = 0
        counted = np.zeros(keys.shape[1], dtype=bool)
        for t_index, tally in enumerate(plan.tallies):
            codes, values = tally.fn(view, plan.ctx)
            counted[j : j + len(unit_codes)] = values is None
            for u_index, uc in enumerate(unit_codes):
                keys[:, j] = (
                    offsets[u_index][t_index] + uc * tally.size + (0 if codes is None else codes)
                )
                if values is not None:
                    vals[:, j] = values
                j += 1
        state.tallies[:, 0] += np.bincount(keys.ravel(), weights=vals.ravel(), minlength=total)
        ids = batch.column(plan.id_column) if plan.id_column else None
        hashes = id_hashes(ids, row, n)
        _fingerprint(fp, hashes)
        if reps:
            _add_replicates(state, keys, vals, counted, poisson_weights(hashes, plan.seed, reps))
        if plan.needs_score_counts and view.score is not None:
            for u_index, uc in enumerate(unit_codes):
                pending[u_index].append(_counts(uc, view.score, view.y == plan.ctx.positive))
                if sum(len(p[0]) for p in pending[u_index]) > 2 * len(pending[u_index][0][0]):
                    pending[u_index] = [_concat_counts(pending[u_index])]
        if plan.keep_failures:
            candidates.append(_failure_candidates(batch, view, hashes, row, plan))
            if len(candidates) > 16:
                candidates = [_top(pa.concat_tables(candidates), plan.keep_failures)]
        row += n
    state.score_counts = [_concat_counts(p) if p else None for p in pending]
    if candidates:
        state.failures = _top(pa.concat_tables(candidates), plan.keep_failures)
    state.fingerprint = (fp[0], fp[1], fp[2])
    return state


def _add_replicates(
    state: ShardState,
    keys: npt.NDArray[np.int64],
    vals: npt.NDArray[np.float64],
    counted: npt.NDArray[np.bool_],
    weights: npt.NDArray[np.float32],
) -> None:
    """Add ``sum(weight * value)`` per key and replicate: one sparse product per value type.

    Count tallies (value 1) multiply in float32, where integer sums up to 2**24 per batch
    are exact; value tallies multiply in float64. Either way the result is independent of
    how rows are split into batches and shards, up to float64 re-association.
    """
    from scipy import sparse  # type: ignore[import-untyped]

    n, total = keys.shape[0], state.tallies.shape[0]
    for mask, dtype in ((counted, np.float32), (~counted, np.float64)):
        per_row = int(mask.sum())
        if not per_row:
            continue
        a = sparse.csc_matrix(
            (
                vals[:, mask].ravel().astype(dtype),
                keys[:, mask].ravel(),
                np.arange(0, n * per_row + 1, per_row),
            ),
            shape=(total, n),
        )
        state.tallies[:, 1:] += a @ weights.astype(dtype, copy=False)


def _ravel(
    codes: list[npt.NDArray[np.int64]], unit: tuple[int, ...], plan: EvalPlan, n: int
) -> npt.NDArray[np.int64]:
    """Cell code of each row in a unit (0 for the overall unit)."""
    if not unit:
        return np.zeros(n, dtype=np.int64)
    return np.ravel_multi_index(tuple(codes[c] for c in unit), plan.unit_shape(unit)).astype(
        np.int64
    )


def _fingerprint(fp: list[int], hashes: npt.NDArray[np.uint64]) -> None:
    with np.errstate(over="ignore"):
        remixed = (hashes ^ (hashes >> np.uint64(29))) * np.uint64(0xBF58476D1CE4E5B9)
        fp[0] += len(hashes)
        fp[1] = (fp[1] + int(hashes.sum(dtype=np.uint64))) & _MASK
        fp[2] = (fp[2] + int(remixed.sum(dtype=np.uint64))) & _MASK


def _counts(
    cells: npt.NDArray[np.int64], score: npt.NDArray[np.float64], pos: npt.NDArray[np.bool_]
) -> ScoreCounts:
    return _compact(cells, score, pos.astype(np.float64), (~pos).astype(np.float64))


def _compact(
    cells: npt.NDArray[np.int64],
    score: npt.NDArray[np.float64],
    pos: npt.NDArray[np.float64],
    neg: npt.NDArray[np.float64],
) -> ScoreCounts:
    order = np.lexsort((score, cells))
    c, s = cells[order], score[order]
    new = np.empty(len(c), dtype=bool)
    new[:1] = True
    new[1:] = (c[1:] != c[:-1]) | (s[1:] != s[:-1])
    starts = np.flatnonzero(new)
    return (
        c[starts],
        s[starts],
        np.add.reduceat(pos[order], starts),
        np.add.reduceat(neg[order], starts),
    )


def _concat_counts(parts: list[ScoreCounts]) -> ScoreCounts:
    if len(parts) == 1:
        return parts[0]
    c, s, p, n = (np.concatenate([part[i] for part in parts]) for i in range(4))
    return _compact(c, s, p, n)


def _add_counts(a: ScoreCounts | None, b: ScoreCounts | None) -> ScoreCounts | None:
    if a is None or b is None:
        return a if b is None else b
    return _concat_counts([a, b])


def _failure_candidates(
    batch: pa.RecordBatch, view: BatchView, hashes: npt.NDArray[np.uint64], row: int, plan: EvalPlan
) -> pa.Table:
    """Rows that are wrong, with how confidently (classification) or how far (regression)."""
    if plan.ctx.task == "regression":
        badness = np.abs(np.asarray(view.y_hat, np.float64) - view.y)
        wrong = badness > 0
    else:
        wrong = view.y != view.y_hat
        if view.score is not None and plan.ctx.task == "binary":
            badness = np.where(view.y_hat == plan.ctx.positive, view.score, 1.0 - view.score)
        else:
            badness = np.zeros(len(view.y))
    idx = np.flatnonzero(wrong)
    if len(idx) > plan.keep_failures:
        order = np.lexsort((hashes[idx], -badness[idx]))[: plan.keep_failures]
        idx = np.sort(idx[order])
    table = pa.Table.from_batches([batch]).take(pa.array(idx))
    if plan.id_column is None:
        table = table.append_column("row", pa.array(row + idx, pa.int64()))
    table = table.append_column("_badness", pa.array(badness[idx]))
    return table.append_column("_hash", pa.array(hashes[idx]))


def _top(table: pa.Table, k: int) -> pa.Table:
    order = pc.sort_indices(table, [("_badness", "descending"), ("_hash", "ascending")])
    return table.take(order[:k])


def merge_states(a: ShardState, b: ShardState, plan: EvalPlan) -> ShardState:
    """The state of the union of two shards' rows (tallies and counts exactly)."""
    failures = [t for t in (a.failures, b.failures) if t is not None]
    return ShardState(
        a.tallies + b.tallies,
        [_add_counts(x, y) for x, y in zip(a.score_counts, b.score_counts, strict=True)],
        _top(pa.concat_tables(failures), plan.keep_failures) if failures else None,
        (
            a.fingerprint[0] + b.fingerprint[0],
            (a.fingerprint[1] + b.fingerprint[1]) & _MASK,
            (a.fingerprint[2] + b.fingerprint[2]) & _MASK,
        ),
    )
