"""Rich tables for runs, shared by ``runs ls``, ``runs compare`` and the demo."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence

from rich.table import Table

from runyard.entities import Run

__all__ = ["compare_table", "format_value", "runs_table"]


def format_value(value: float | None) -> str:
    """A metric value for a table cell: 4 significant digits, NaN/inf spelled out."""
    if value is None:
        return "-"
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.4g}"


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def runs_table(
    runs: Sequence[Run],
    metric_keys: Sequence[str] | None = None,
    param_keys: Sequence[str] | None = None,
    title: str | None = None,
    started: bool = True,
) -> Table:
    """One row per run: id, name, status, start, then chosen params and latest metrics."""
    metric_keys = list(metric_keys) if metric_keys is not None else _keys(r.metrics for r in runs)
    param_keys = list(param_keys) if param_keys is not None else _keys(r.params for r in runs)
    table = Table(title=title, header_style="bold")
    for col in ("run_id", "name", "status", "started")[: 4 if started else 3]:
        table.add_column(col, no_wrap=True)
    for key in param_keys:
        table.add_column(f"params.{key}")
    for key in metric_keys:
        table.add_column(f"metrics.{key}", justify="right")
    for run in runs:
        summaries = run.metrics
        table.add_row(
            run.run_id[:12],
            run.name,
            run.status.value,
            *([_when(run.start_time)] if started else []),
            *(run.params.get(k, "-") for k in param_keys),
            *(format_value(summaries[k].latest if k in summaries else None) for k in metric_keys),
        )
    return table


def compare_table(
    runs: Sequence[Run], ranges: bool = True, metric_keys: Sequence[str] | None = None
) -> Table:
    """Runs side by side: one column per run, one row per param and metric.

    Metric cells show the latest value and, with ``ranges``, the (min–max) range.
    """
    table = Table(header_style="bold")
    table.add_column("")
    for run in runs:
        table.add_column(f"{run.name}\n{run.run_id[:8]}", justify="right")
    table.add_row("status", *(r.status.value for r in runs))
    for key in _keys(r.params for r in runs):
        values = [r.params.get(key, "-") for r in runs]
        style = "yellow" if len(set(values)) > 1 else None
        table.add_row(f"params.{key}", *values, style=style)
    keys = list(metric_keys) if metric_keys is not None else _keys(r.metrics for r in runs)
    for key in keys:
        cells = []
        for r in runs:
            s = r.metrics.get(key)
            if s is None:
                cells.append("-")
            elif ranges:
                span = f"{format_value(s.min)}–{format_value(s.max)}"
                cells.append(f"{format_value(s.latest)} [dim]({span})[/]")
            else:
                cells.append(format_value(s.latest))
        table.add_row(f"metrics.{key}", *cells)
    return table


def _keys(mappings: Iterable[Mapping[str, object]]) -> list[str]:
    seen: dict[str, None] = {}
    for m in mappings:
        seen.update(dict.fromkeys(m))
    return sorted(seen)
