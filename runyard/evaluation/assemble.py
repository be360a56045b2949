"""From merged tallies to per-slice metric values, replicates and intervals."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from runyard.evaluation.engine import ScoreCounts, ShardState
from runyard.evaluation.plan import EvalPlan
from runyard.evaluation.slices import slice_label

__all__ = ["Rows", "assemble"]


@dataclass(frozen=True)
class Rows:
    """Column arrays of the result table plus the bootstrap replicates of each row."""

    slices: list[str]
    keys: list[tuple[tuple[str, str], ...]]
    metrics: list[str]
    values: npt.NDArray[np.float64]
    n: npt.NDArray[np.int64]
    replicates: npt.NDArray[np.float64]


def _unit_for(family: tuple[int, ...], plan: EvalPlan) -> int:
    for i, unit in enumerate(plan.units):
        if set(family) <= set(unit):
            return i
    raise LookupError(family)  # pragma: no cover - the planner always covers every family


def _family_tallies(
    state: ShardState, plan: EvalPlan, family: tuple[int, ...]
) -> tuple[dict[str, npt.NDArray[np.float64]], int]:
    offsets, _ = plan.layout()
    u = _unit_for(family, plan)
    unit = plan.units[u]
    shape = plan.unit_shape(unit)
    cells = math.prod(shape)
    drop = tuple(i for i, c in enumerate(unit) if c not in family)
    out = {}
    groups = math.prod(plan.unit_shape(family))
    for t_index, tally in enumerate(plan.tallies):
        start = offsets[u][t_index]
        block = state.tallies[start : start + cells * tally.size]
        block = block.reshape(*shape, tally.size, -1)
        if drop:
            block = block.sum(axis=drop)
        out[tally.name] = block.reshape(groups, tally.size, -1)
    return out, u


def _family_counts(
    counts: ScoreCounts, plan: EvalPlan, unit: tuple[int, ...], family: tuple[int, ...]
) -> list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
    cells, score, pos, neg = counts
    if tuple(unit) == tuple(family):
        codes = cells
    else:
        idx = np.unravel_index(cells, plan.unit_shape(unit))
        keep = tuple(idx[unit.index(c)] for c in family)
        codes = (
            np.ravel_multi_index(keep, plan.unit_shape(family)) if family else np.zeros_like(cells)
        )
        order = np.lexsort((score, codes))
        codes, score, pos, neg = codes[order], score[order], pos[order], neg[order]
    groups = math.prod(plan.unit_shape(family))
    bounds = np.searchsorted(codes, np.arange(groups + 1))
    out = []
    for g in range(groups):
        a, b = bounds[g], bounds[g + 1]
        s, p, n = score[a:b], pos[a:b], neg[a:b]
        if b > a:
            new = np.empty(len(s), dtype=bool)
            new[0] = True
            new[1:] = s[1:] != s[:-1]
            starts = np.flatnonzero(new)
            s, p, n = s[starts], np.add.reduceat(p, starts), np.add.reduceat(n, starts)
        out.append((s, p, n))
    return out


def assemble(state: ShardState, plan: EvalPlan) -> Rows:
    """Metric values per (slice, metric), in family order; empty slices are left out."""
    slices: list[str] = []
    keys: list[tuple[tuple[str, str], ...]] = []
    metrics: list[str] = []
    values: list[npt.NDArray[np.float64]] = []
    ns: list[npt.NDArray[np.int64]] = []
    reps: list[npt.NDArray[np.float64]] = []
    cols = plan.slice_columns
    for family in plan.families:
        tallies, u = _family_tallies(state, plan, family)
        n = tallies["n"][:, 0, 0]
        present = np.flatnonzero(n > 0)
        if not len(present):
            continue
        per_metric = []
        for metric in plan.metrics:
            result = metric.compute(tallies, plan.ctx)
            unit_counts = state.score_counts[u]
            if metric.uses_score_counts and unit_counts is not None:
                counts = _family_counts(unit_counts, plan, plan.units[u], family)
                for g in present:
                    exact = metric.exact(*counts[g])
                    if exact is not None:
                        shift = exact - result[g, 0]
                        result[g, 1:] += 0.0 if math.isnan(shift) else shift
                        result[g, 0] = exact
            per_metric.append(result)
        shape = plan.unit_shape(family)
        for g in present:
            codes = np.unravel_index(int(g), shape) if family else ()
            label = slice_label(cols, family, [int(c) for c in codes])
            key = tuple(
                (cols[c].column, cols[c].labels[int(v)]) for c, v in zip(family, codes, strict=True)
            )
            for metric, result in zip(plan.metrics, per_metric, strict=True):
                slices.append(label)
                keys.append(key)
                metrics.append(metric.name)
                values.append(result[g, 0:1])
                ns.append(np.array([n[g]], dtype=np.int64))
                reps.append(result[g, 1:][None, :])
    return Rows(
        slices,
        keys,
        metrics,
        np.concatenate(values),
        np.concatenate(ns),
        np.concatenate(reps) if reps else np.zeros((0, plan.replicates)),
    )
