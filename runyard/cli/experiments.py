"""``runyard experiments ls``."""

from __future__ import annotations

import datetime as dt

import typer
from rich.console import Console
from rich.table import Table

from runyard.cli.options import TrackingUri
from runyard.tracking.client import Client

__all__ = ["app"]

app = typer.Typer(help="List experiments.", no_args_is_help=True)


@app.command("ls")
def ls(tracking_uri: TrackingUri = None) -> None:
    """List active experiments."""
    table = Table("id", "name", "created", "artifact_location", header_style="bold")
    for exp in Client(tracking_uri).list_experiments():
        created = dt.datetime.fromtimestamp(exp.creation_time / 1000).strftime("%Y-%m-%d %H:%M")
        table.add_row(exp.experiment_id, exp.name, created, exp.artifact_location)
    Console().print(table)
