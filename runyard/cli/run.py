"""``runyard run`` and ``runyard why``: run a pipeline with live progress; explain a cache miss."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from runyard.cli.options import ArtifactUri, TrackingUri
from runyard.errors import InvalidArgument
from runyard.executors import get_executor
from runyard.pipelines import PipelineResult, StepEvent, StepStatus
from runyard.pipelines.loader import load_pipeline
from runyard.pipelines.params import parse_param_strings
from runyard.pipelines.why import explain
from runyard.tracking.store import get_store

__all__ = ["register", "run", "why"]

console = Console()

_TARGET_TAG = "runyard.pipeline.target"


class _ProgressView:
    """Counts step calls by status and shows them on a Rich progress bar.

    Counts are kept incrementally (one decrement, one increment per event), so a fan-out
    of 10,000 calls costs the same per event as a chain.
    """

    def __init__(self, progress: Progress, where: str = "steps") -> None:
        self.progress = progress
        self.task = progress.add_task(where, total=None, counts="")
        self.status: dict[tuple[str, int | None], StepStatus] = {}
        self.counts: Counter[StepStatus] = Counter()

    def __call__(self, event: StepEvent) -> None:
        key = (event.node_id, event.index)
        previous = self.status.get(key)
        if previous is not None:
            self.counts[previous] -= 1
        self.status[key] = event.status
        self.counts[event.status] += 1
        counts = self.counts
        settled = len(self.status) - counts[StepStatus.RUNNING]
        text = (
            f"[green]{counts[StepStatus.FINISHED]} done[/] · "
            f"[cyan]{counts[StepStatus.CACHED]} cached[/] · "
            f"[yellow]{counts[StepStatus.RUNNING]} running[/] · "
            f"[red]{counts[StepStatus.FAILED]} failed[/]"
        )
        self.progress.update(
            self.task, total=max(event.total, len(self.status)), completed=settled, counts=text
        )


def _summary(result: PipelineResult) -> Table:
    table = Table("step", "status", "cache", "seconds", "where", "run id", header_style="bold")
    colours = {"FINISHED": "green", "CACHED": "cyan", "FAILED": "red", "KILLED": "magenta"}
    for s in sorted(result.steps, key=lambda r: (r.node_id, r.index or 0)):
        colour = colours.get(s.status.value, "white")
        cache = s.cache.value + (f" ({s.cache_reason})" if s.cache_reason else "")
        table.add_row(
            s.label,
            f"[{colour}]{s.status.value}",
            cache,
            f"{s.duration_s:.3f}",
            s.worker or "-",
            s.run_id or "-",
        )
    return table


def run(
    target: Annotated[
        str | None, typer.Argument(help="The pipeline: path/to/file.py:NAME or module:NAME.")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="A parameter, NAME=VALUE (repeat).")
    ] = None,
    executor: Annotated[
        str, typer.Option("--executor", "-e", help="inline, process, process:N or ray.")
    ] = "inline",
    experiment: Annotated[
        str | None, typer.Option("--experiment", help="Experiment (default: the pipeline name).")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Run every step; neither read nor trust the cache.")
    ] = False,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Re-run only what did not succeed in RUN_ID.")
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            envvar="RUNYARD_RAY_ADDRESS",
            help="Ray cluster (host:port) for --executor ray; default: start a local Ray.",
        ),
    ] = None,
    tracking_uri: TrackingUri = None,
    artifact_uri: ArtifactUri = None,
) -> None:
    """Run a pipeline as a tracked run, showing steps done / cached / running / failed."""
    if ray_address and executor == "ray":
        executor = f"ray:{ray_address}"
    store = get_store(tracking_uri)
    try:
        if target is None:
            if resume is None:
                raise InvalidArgument("name a pipeline (FILE.py:NAME) or give --resume RUN_ID")
            target = store.get_run(resume).tags.get(_TARGET_TAG)
            if not target:
                raise InvalidArgument(f"run {resume} does not record which pipeline it ran")
        pipe = load_pipeline(target)
        params = parse_param_strings(pipe.graph(), param or [])
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            ex = get_executor(executor)
            view = _ProgressView(progress, f"steps on {ex.describe_worker()}")
            try:
                result = pipe.run(
                    executor=ex,
                    store=store,
                    artifacts=artifact_uri,
                    experiment=experiment,
                    cache=not no_cache,
                    resume=resume,
                    raise_on_failure=False,
                    on_event=view,
                    **params,
                )
            finally:
                ex.shutdown()
    finally:
        store.close()
    console.print(_summary(result))
    colour = "green" if result.status.value == "FINISHED" else "red"
    console.print(f"pipeline run [bold]{result.run_id}[/]: [{colour}]{result.status.value}[/]")
    for failed in result.failed:
        console.print(f"[red]{failed.label} failed:[/]\n{failed.error}", highlight=False)
    if result.failed:
        raise typer.Exit(code=7)
    console.print(f"value: {result.value!r}", highlight=False)


def why(
    pipeline_run: Annotated[str, typer.Argument(help="The pipeline run id.")],
    step: Annotated[str, typer.Argument(help="The step (node id, or node[i] for one map call).")],
    tracking_uri: TrackingUri = None,
) -> None:
    """Explain why a step was not a cache hit: which part of its key changed."""
    store = get_store(tracking_uri)
    try:
        explanations = explain(store, pipeline_run, step)
    finally:
        store.close()
    for e in explanations:
        console.print("\n".join(e.lines()), highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``why`` to the ``runyard`` app."""
    app.command("run")(run)
    app.command("why")(why)
