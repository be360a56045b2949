"""``runyard train FILE.py:FUNCTION``: distributed training from the shell, with a live display.

Example:
    runyard train train.py:train_loop --workers 2 --config lr=0.05 --config epochs=10
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from runyard._internal.targets import load_target
from runyard.cli.options import ArtifactUri, TrackingUri
from runyard.errors import InvalidArgument

__all__ = ["load_function", "parse_config", "register"]


def load_function(target: str) -> Callable[..., Any]:
    """The function ``path/to/file.py:name`` (or ``package.module:name``) names.

    A file is loaded as a module of its own and pickled by value, so worker processes and
    Ray workers get its code without needing it on their import path.

    Raises:
        InvalidArgument: no ``:``, a missing file or module, or no such function.
    """
    fn = load_target(target, "training function")
    if not callable(fn):
        raise InvalidArgument(f"{target} is a {type(fn).__name__}, not a function")
    if target.rpartition(":")[0].endswith(".py"):
        import cloudpickle  # type: ignore[import-untyped]

        cloudpickle.register_pickle_by_value(sys.modules[fn.__module__])
    return fn


def parse_config(items: list[str]) -> dict[str, Any]:
    """``["lr=0.05", "epochs=10", "name=mlp"]`` → ``{"lr": 0.05, "epochs": 10, "name": "mlp"}``.

    Values are read as JSON (numbers, booleans, lists) and fall back to plain strings.

    Raises:
        InvalidArgument: an item without ``=``.
    """
    config: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise InvalidArgument(f"--config takes KEY=VALUE, got {item!r}")
        try:
            config[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            config[key.strip()] = text
    return config


def _progress_table(progress: Any, workers: int, started: bool) -> Table:
    table = Table(title=f"training on {workers} worker(s)", show_header=True)
    for column in ("attempt", "workers", "epoch", "restarts", "checkpoints", "metrics"):
        table.add_column(column)
    if progress is None:
        table.add_row("0", str(workers), "-", "0", "0", "starting workers…" if not started else "")
        return table
    metrics = "  ".join(f"{k}={v:.4g}" for k, v in sorted(progress.metrics.items()))
    table.add_row(
        str(progress.attempt),
        str(progress.world_size or workers),
        "-" if progress.epoch is None else str(progress.epoch),
        str(progress.restarts),
        str(progress.checkpoints),
        metrics or "starting workers…",
    )
    return table


def register(app: typer.Typer) -> None:
    """Add the ``train`` command to ``app``."""

    @app.command("train")
    def train_command(
        target: Annotated[str, typer.Argument(help="FILE.py:FUNCTION or MODULE:FUNCTION.")],
        workers: Annotated[int, typer.Option(help="Number of workers.")] = 1,
        min_workers: Annotated[
            int | None,
            typer.Option(help="Allow restarts on fewer workers, down to this (Ray)."),
        ] = None,
        placement_timeout: Annotated[
            float, typer.Option(help="Seconds a (re)start waits for room for min-workers.")
        ] = 60.0,
        config: Annotated[
            list[str] | None, typer.Option("--config", "-c", help="KEY=VALUE, repeatable.")
        ] = None,
        executor: Annotated[str, typer.Option(help="process, ray or ray:ADDRESS.")] = "process",
        gpus_per_worker: Annotated[float, typer.Option(help="GPUs per worker.")] = 0,
        max_restarts: Annotated[int, typer.Option(help="Restarts after lost workers.")] = 3,
        experiment: Annotated[str | None, typer.Option(help="Experiment name.")] = None,
        name: Annotated[str | None, typer.Option(help="Run name.")] = None,
        seed: Annotated[int, typer.Option(help="Seed for every RNG and the sampler.")] = 0,
        tracking_uri: TrackingUri = None,
        artifact_uri: ArtifactUri = None,
    ) -> None:
        """Run a training function on N data-parallel workers, tracked and fault-tolerant."""
        from runyard.training import train

        fn = load_function(target)
        console = Console()
        with Live(_progress_table(None, workers, False), console=console) as live:
            result = train(
                fn,
                config=parse_config(config or []),
                workers=workers,
                min_workers=min_workers,
                placement_timeout=placement_timeout,
                executor=executor,
                gpus_per_worker=gpus_per_worker,
                max_restarts=max_restarts,
                experiment=experiment,
                run_name=name,
                seed=seed,
                tracking_uri=tracking_uri,
                artifact_uri=artifact_uri,
                on_progress=lambda p: live.update(_progress_table(p, workers, True)),
            )
        metrics = "  ".join(f"{k}={v:.4g}" for k, v in sorted(result.metrics.items()))
        console.print(f"[bold green]FINISHED[/] run {result.run_id}  {metrics}")
        for restart in result.restarts:
            resumed = restart.resumed_from_epoch
            console.print(
                f"  restart {restart.attempt}: {restart.cause} "
                f"(resumed after epoch {resumed if resumed is not None else '-'}, "
                f"on {restart.world_size} worker(s))"
            )
        if result.checkpoint is not None:
            console.print(
                f"  last checkpoint: epoch {result.checkpoint.epoch} "
                f"{result.checkpoint.artifact.digest[:19]}…"
            )
