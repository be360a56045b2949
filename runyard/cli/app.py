"""The ``runyard`` command: one Typer app, one module per verb group."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from runyard.cli import demo, experiments, run, runs, server, sweep, tokens
from runyard.cli import eval as eval_cli
from runyard.cli import models as models_cli
from runyard.cli import serve as serve_cli
from runyard.cli import train as train_cli
from runyard.cli.errors import exit_code_for
from runyard.errors import RunyardError

__all__ = ["app", "main"]

app = typer.Typer(
    name="runyard",
    help="runyard — track, run, tune, evaluate and serve ML experiments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(runs.app, name="runs")
app.add_typer(experiments.app, name="experiments")
app.add_typer(eval_cli.app, name="eval")
demo.register(app)
run.register(app)
sweep.register(app)
server.register(app)
app.add_typer(tokens.app, name="tokens")
app.add_typer(models_cli.app, name="models")
serve_cli.register(app)
train_cli.register(app)


def main() -> None:
    """Entry point of the console script: runs the app and maps errors to exit codes."""
    try:
        app()
    except RunyardError as e:
        code, label = exit_code_for(e)
        Console(stderr=True).print(f"[bold red]runyard: {label}:[/] {e}", highlight=False)
        sys.exit(code)
