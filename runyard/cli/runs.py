"""``runyard runs ls|show|compare``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from runyard.cli.options import ArtifactUri, TrackingUri
from runyard.cli.tables import compare_table, format_value, runs_table
from runyard.tracking.client import Client

__all__ = ["app"]

app = typer.Typer(help="List, inspect and compare runs.", no_args_is_help=True)
console = Console()


@app.command("ls")
def ls(
    experiment: Annotated[str, typer.Argument(help="Experiment name or id.")] = "Default",
    filter: Annotated[  # noqa: A002
        str, typer.Option("--filter", "-f", help="e.g. \"metrics.acc > 0.9 and params.lr = '0.1'\"")
    ] = "",
    order_by: Annotated[
        list[str] | None, typer.Option("--order-by", "-o", help="e.g. 'metrics.acc desc'")
    ] = None,
    max_results: Annotated[int, typer.Option("--max", "-n", help="At most this many.")] = 50,
    tracking_uri: TrackingUri = None,
) -> None:
    """List the runs of an experiment, filtered and ordered."""
    page = Client(tracking_uri).search_runs(experiment, filter, order_by or [], max_results)
    console.print(runs_table(page.items, title=f"{experiment}: {len(page)} runs"))


@app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="The run id.")],
    tracking_uri: TrackingUri = None,
    artifact_uri: ArtifactUri = None,
) -> None:
    """Show one run: attributes, params, tags, metric summaries and artifacts."""
    client = Client(tracking_uri, artifact_uri)
    run = client.get_run(run_id)
    head = Table.grid(padding=(0, 2))
    for label, value in (
        ("run_id", run.run_id),
        ("name", run.name),
        ("experiment_id", run.experiment_id),
        ("status", run.status.value),
        ("parent", run.parent_run_id or "-"),
        ("artifact_uri", run.artifact_uri),
    ):
        head.add_row(f"[bold]{label}", value)
    console.print(head)
    if run.params or run.tags:
        kv = Table("kind", "key", "value", header_style="bold")
        for k, v in sorted(run.params.items()):
            kv.add_row("param", k, v)
        for k, v in sorted(run.tags.items()):
            kv.add_row("tag", k, v)
        console.print(kv)
    if run.metrics:
        mt = Table("metric", "latest", "step", "min", "max", "points", header_style="bold")
        for k, s in sorted(run.metrics.items()):
            mt.add_row(
                k,
                format_value(s.latest),
                str(s.latest_step),
                format_value(s.min),
                format_value(s.max),
                str(s.count),
            )
        console.print(mt)
    refs = client.list_artifacts(run_id)
    if refs:
        at = Table("artifact", "size", "digest", header_style="bold")
        for ref in refs:
            at.add_row(ref.path, f"{ref.size:,}", ref.digest[:19])
        console.print(at)


@app.command("compare")
def compare(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids.")],
    tracking_uri: TrackingUri = None,
) -> None:
    """Compare runs side by side; params that differ are highlighted."""
    client = Client(tracking_uri)
    console.print(compare_table([client.get_run(r) for r in run_ids]))
