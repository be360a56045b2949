"""``runyard sweep FILE.py:OBJECTIVE --space space.yaml ...`` and ``runyard sweep show NAME``.

Wire it with ``sweep.register(app)`` in ``runyard/cli/app.py``.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from runyard.cli.options import ArtifactUri, TrackingUri
from runyard.errors import InvalidArgument
from runyard.sweeps import Sweep, SweepProgress, load_sweep, sweep
from runyard.sweeps.loader import load_objective, load_space

__all__ = ["register", "sweep_command"]

console = Console()


def _progress_view(p: SweepProgress) -> Group:
    counts = Text.assemble(
        (f"{p.running} running", "yellow"), " · ",
        (f"{p.complete} done", "green"), " · ",
        (f"{p.pruned} pruned", "cyan"), " · ",
        (f"{p.failed} failed", "red"), f"   ({p.finished}/{p.total})",
    )  # fmt: skip
    if p.best_value is None:
        best = Text("best so far: -")
    else:
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in p.best_params.items())
        best = Text(f"best so far: {p.best_value:.6g} (trial {p.best_number}: {params})")
    return Group(Text(f"sweep {p.name}", style="bold"), counts, best)


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _leaderboard(result: Sweep, top: int) -> Table:
    board = result.leaderboard(top)
    names = sorted({k for t in board for k in t.params})
    table = Table(
        "#", "trial", result.handle.metric, *names, "steps", "seconds", "run id",
        title=f"sweep {result.name}: top {len(board)} ({result.handle.direction})",
        header_style="bold",
    )  # fmt: skip
    for rank, t in enumerate(board, 1):
        table.add_row(
            str(rank), str(t.number), _fmt(t.value),
            *[_fmt(t.params.get(n, "-")) for n in names],
            str(t.steps), "-" if t.duration_s is None else f"{t.duration_s:.1f}", t.run_id,
        )  # fmt: skip
    return table


def _importances(result: Sweep) -> Table | None:
    scores = result.importances()
    if not scores:
        return None
    table = Table("parameter", "importance", "", title="parameter importances", header_style="bold")
    for name, score in sorted(scores.items(), key=lambda kv: -kv[1]):
        table.add_row(name, f"{score:.3f}", "█" * max(1, round(score * 30)))
    return table


def show(
    name: Annotated[str, typer.Argument(help="The sweep name.")],
    experiment: str | None = None,
    top: int = 10,
    tracking_uri: TrackingUri = None,
) -> None:
    """Print a sweep's leaderboard, its state counts and its parameter importances."""
    result = load_sweep(name, experiment=experiment, tracking_uri=tracking_uri)
    counts = result.counts()
    console.print(
        f"[bold]sweep {result.name}[/] ({result.status}) run {result.run_id}: "
        + " · ".join(f"{n} {s.lower()}" for s, n in counts.items())
    )
    console.print(_leaderboard(result, top))
    table = _importances(result)
    if table is not None:
        console.print(table)


def sweep_command(
    target: Annotated[
        str, typer.Argument(help="FILE.py:OBJECTIVE to tune, or 'show' to show a sweep.")
    ],
    sweep_name: Annotated[
        str | None, typer.Argument(metavar="[NAME]", help="With 'show': the sweep to show.")
    ] = None,
    space: Annotated[
        str | None, typer.Option("--space", help="A YAML or JSON file of the search space.")
    ] = None,
    trials: Annotated[int, typer.Option(help="Trials in total.")] = 20,
    concurrency: Annotated[int, typer.Option(help="Trials at once.")] = 1,
    metric: Annotated[str, typer.Option(help="The optimised metric.")] = "objective",
    mode: Annotated[str, typer.Option(help="max or min.")] = "max",
    sampler: Annotated[str, typer.Option(help="tpe, random, grid, cmaes, qmc, gp.")] = "tpe",
    scheduler: Annotated[
        str | None, typer.Option(help="asha, hyperband, median (default: none).")
    ] = None,
    prune_on: Annotated[
        str, typer.Option(help="best (a trial's best value so far) or last (its latest).")
    ] = "best",
    executor: Annotated[
        str | None, typer.Option(help="inline, process, ray (default by concurrency).")
    ] = None,
    experiment: Annotated[str | None, typer.Option(help="The experiment.")] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Sweep name (an existing one resumes).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seeds the sampler.")] = None,
    top: Annotated[int, typer.Option(help="With 'show': rows of the leaderboard.")] = 10,
    tracking_uri: TrackingUri = None,
    artifact_uri: ArtifactUri = None,
) -> None:
    """Tune an objective with a live display, or show a sweep: ``runyard sweep show NAME``."""
    if target == "show":
        if not sweep_name:
            raise InvalidArgument("usage: runyard sweep show NAME")
        show(sweep_name, experiment, top, tracking_uri)
        return
    if sweep_name is not None:
        raise InvalidArgument(f"unexpected argument {sweep_name!r}; give the name with --name")
    objective = load_objective(target)
    search_space = load_space(space) if space else None
    with Live(console=console, refresh_per_second=4, transient=False) as live:
        result = sweep(
            objective, search_space, metric=metric, mode=mode, sampler=sampler,
            scheduler=scheduler, prune_on=prune_on, trials=trials, concurrency=concurrency,
            executor=executor, experiment=experiment, name=name, seed=seed,
            tracking_uri=tracking_uri,
            artifact_uri=artifact_uri, on_progress=lambda p: live.update(_progress_view(p)),
        )  # fmt: skip
    console.print(_leaderboard(result, min(top, 5)))
    console.print(f"show it again with: runyard sweep show {result.name}")


def register(app: typer.Typer) -> None:
    """Add the ``sweep`` command to the ``runyard`` app."""
    app.command(
        "sweep",
        help="Tune FILE.py:OBJECTIVE over --space (live display); "
        "'runyard sweep show NAME' prints a leaderboard and parameter importances.",
    )(sweep_command)
