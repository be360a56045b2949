"""``runyard eval show|compare``: evaluation results stored on runs, as Rich tables."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from runyard.cli.options import ArtifactUri, TrackingUri
from runyard.tracking.client import Client

__all__ = ["app"]

app = typer.Typer(help="Show and compare evaluation results stored on runs.", no_args_is_help=True)
console = Console()


def _print(headers: list[str], rows: list[list[str]], title: str) -> None:
    table = Table(*headers, title=title, header_style="bold")
    for row in rows:
        style = "red" if row and row[0] == "FAIL" else None
        table.add_row(*row, style=style)
    console.print(table)


@app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="A run that holds an evaluation.")],
    metric: Annotated[str | None, typer.Option(help="Only this metric.")] = None,
    worst: Annotated[int, typer.Option(help="How many worst slices to list.")] = 10,
    limit: Annotated[int | None, typer.Option(help="At most this many slices.")] = None,
    tracking_uri: TrackingUri = None,
    artifact_uri: ArtifactUri = None,
) -> None:
    """Metrics per slice with confidence intervals, then the worst slices."""
    from runyard.evaluation import load_eval, result_rows, worst_slice_rows

    result = load_eval(run_id, Client(tracking_uri, artifact_uri))
    _print(*result_rows(result, metric, limit), title=f"evaluation of run {run_id[:12]}")
    _print(*worst_slice_rows(result, metric, worst), title="worst slices")


@app.command("compare")
def compare(
    run_a: Annotated[str, typer.Argument(help="The baseline run (A).")],
    run_b: Annotated[str, typer.Argument(help="The candidate run (B).")],
    gate: Annotated[
        list[str] | None,
        typer.Option("--gate", "-g", help="A gate rule, e.g. 'delta(accuracy) >= 0'; repeatable."),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many rows.")] = None,
    tracking_uri: TrackingUri = None,
    artifact_uri: ArtifactUri = None,
) -> None:
    """B vs A per slice and metric: delta, interval, p and q values; optional gates.

    Exits with code 1 when a gate fails.
    """
    from runyard.evaluation import compare as compare_results
    from runyard.evaluation import comparison_rows, load_eval, verdict_rows
    from runyard.evaluation import gate as run_gate

    client = Client(tracking_uri, artifact_uri)
    cmp = compare_results(load_eval(run_a, client), load_eval(run_b, client))
    _print(*comparison_rows(cmp, limit), title=f"B={run_b[:12]} vs A={run_a[:12]}")
    if gate:
        verdict = run_gate(cmp, *gate)
        _print(*verdict_rows(verdict), title="gate: " + ("PASS" if verdict.passed else "FAIL"))
        if not verdict.passed:
            raise typer.Exit(1)
