"""Plain rows for terminals and UIs: what ``runyard eval show|compare`` prints.

Each function returns ``(headers, rows)`` with every cell already formatted as text, so a
surface (Rich table, HTML) only lays them out.
"""

from __future__ import annotations

import math

from runyard.evaluation.compare import Comparison
from runyard.evaluation.gates import GateVerdict
from runyard.evaluation.result import EvalResult

__all__ = ["comparison_rows", "result_rows", "verdict_rows", "worst_slice_rows"]

Table = tuple[list[str], list[list[str]]]


def _num(x: object, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def result_rows(result: EvalResult, metric: str | None = None, limit: int | None = None) -> Table:
    """One row per slice: slice, n, then ``value [ci_low, ci_high]`` per metric.

    Example:
        >>> headers, rows = result_rows(res)  # doctest: +SKIP
    """
    metrics = [metric] if metric else list(result.metrics)
    t = result.table.to_pylist()
    by_slice: dict[str, dict[str, dict[str, object]]] = {}
    for r in t:
        by_slice.setdefault(str(r["slice"]), {})[str(r["metric"])] = r
    rows = []
    for s, cells in by_slice.items():
        any_row = next(iter(cells.values()))
        row = [s + (" (small)" if any_row["small"] else ""), str(any_row["n"])]
        for m in metrics:
            c = cells.get(m)
            row.append(
                "-"
                if c is None
                else f"{_num(c['value'])} [{_num(c['ci_low'])}, {_num(c['ci_high'])}]"
            )
        rows.append(row)
    return ["slice", "n", *metrics], rows[:limit] if limit else rows


def worst_slice_rows(result: EvalResult, metric: str | None = None, k: int = 10) -> Table:
    """The worst slices (see :meth:`EvalResult.worst_slices`) as text rows."""
    t = result.worst_slices(metric, k).to_pylist()
    headers = ["slice", "metric", "value", "overall", "gap", "n", "score"]
    return headers, [[_num(r[h]) if h != "slice" else str(r[h]) for h in headers] for r in t]


def comparison_rows(cmp: Comparison, limit: int | None = None) -> Table:
    """The comparison, significant regressions first, as text rows."""
    headers = ["slice", "metric", "a", "b", "delta", "ci", "p", "q", "verdict"]
    rows = [
        [
            str(r["slice"]),
            str(r["metric"]),
            _num(r["a"]),
            _num(r["b"]),
            _num(r["delta"], 3),
            f"[{_num(r['ci_low'], 3)}, {_num(r['ci_high'], 3)}]",
            _num(r["p_value"], 2),
            _num(r["q_value"], 2),
            str(r["direction"]) or "-",
        ]
        for r in cmp.table.to_pylist()
    ]
    return headers, rows[:limit] if limit else rows


def verdict_rows(verdict: GateVerdict) -> Table:
    """One row per gate rule: PASS/FAIL, the rule and the reason."""
    return ["", "rule", "reason"], [
        ["PASS" if o.passed else "FAIL", o.rule, o.reason] for o in verdict.outcomes
    ]
