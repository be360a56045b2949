"""``runyard demo``: the end-to-end loop on embedded defaults (SQLite, local folder).

Trains small MLPs on scikit-learn's bundled digits data with a few learning rates and
hidden sizes as a cached pipeline (one step call per model; a second demo answers them from
the cache), logs params, per-epoch metrics and the model in its scikit-learn flavor, tunes
the same model with a small TPE + ASHA sweep, trains the sweep's best settings in PyTorch on
2 data-parallel workers with ``ry.train`` (logged as ONNX), evaluates each model per slice
with bootstrap intervals (stored on its run), searches the runs, compares the best model
with the runner-up slice by slice, gates the promotion, and registers the winner as
``digits-mlp`` with the ``@champion`` alias (behind its own gate), serves it with
``runyard serve`` and asks it about a few digits. It grows with every capability runyard gains.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress

from runyard.cli.options import ArtifactUri, TrackingUri
from runyard.cli.tables import compare_table, runs_table
from runyard.tracking.client import Client

if TYPE_CHECKING:
    from runyard.pipelines.records import StepEvent

__all__ = ["register", "run_demo"]

GRID = [
    {"lr": 0.001, "hidden": 32},
    {"lr": 0.01, "hidden": 32},
    {"lr": 0.01, "hidden": 128},
    {"lr": 0.1, "hidden": 64},
]
DDP_WORKERS = 2
SWEEP_NAME = "digits-demo-mlp"
SWEEP_TRIALS = 12
MODEL_NAME = "digits-mlp"
CHAMPION_GATE = "accuracy >= 0.9"


def run_demo(
    tracking_uri: str | None = None,
    artifact_uri: str | None = None,
    epochs: int = 15,
    console: Console | None = None,
) -> list[str]:
    """Run the demo loop and print what it found; returns the run ids it created."""
    from runyard.cli._demo_steps import EXPERIMENT as experiment
    from runyard.cli._demo_steps import PIPELINE_EXPERIMENT, train_grid

    console = console or Console()
    started = time.perf_counter()
    with Progress(console=console) as progress:
        task = progress.add_task("training MLPs on digits (a cached pipeline)", total=len(GRID))

        def advance(event: StepEvent) -> None:
            if event.status.value in ("SUCCEEDED", "CACHED", "FAILED"):
                progress.advance(task)

        result = train_grid.run(
            executor="inline",
            store=tracking_uri,
            artifacts=artifact_uri,
            experiment=PIPELINE_EXPERIMENT,
            on_event=advance,
            hidden=[p["hidden"] for p in GRID],
            lr=[p["lr"] for p in GRID],
            epochs=epochs,
            tracking_uri=tracking_uri,
            artifact_uri=artifact_uri,
        )
    run_ids: list[str] = list(result.value)
    cached = sum(s.cache.value == "hit" for s in result.steps)
    console.print(
        f"trained {len(GRID) - cached} models, {cached} from the pipeline's cache, "
        f"in {time.perf_counter() - started:.1f}s (pipeline run {result.run_id})"
    )

    tuned = _tune(tracking_uri, artifact_uri, console)
    run_ids.append(_train_at_scale(tuned, epochs, tracking_uri, artifact_uri, console))

    client = Client(tracking_uri, artifact_uri)
    best = client.search_runs(
        experiment,
        filter="metrics.acc > 0.5 and tags.demo = 'digits'",
        order_by=["metrics.acc desc"],
        max_results=10,
    )
    console.print(
        runs_table(
            best.items, ["acc", "loss"], ["lr", "hidden"], "runs with acc > 0.5", started=False
        )
    )
    mine = [client.get_run(r) for r in run_ids]
    console.print(compare_table(mine, ranges=False, metric_keys=["acc", "train_acc", "loss"]))
    if best.items:
        top = best.items[0]
        console.print(
            f"best: [bold]{top.name}[/] acc={top.metrics['acc'].latest:.4f} "
            f"(run {top.run_id}); artifacts: "
            + ", ".join(r.path for r in client.list_artifacts(top.run_id))
        )
    if len(best.items) >= 2:
        passed = _compare_and_gate(client, best.items[1].run_id, best.items[0].run_id, console)
        if passed:
            _register_champion(client, best.items[0].run_id, console)
            _serve_champion(tracking_uri, artifact_uri, console)
    return run_ids


def _tune(
    tracking_uri: str | None, artifact_uri: str | None, console: Console
) -> Mapping[str, Any]:
    """A small sweep with ASHA early stopping; run again, it resumes (nothing re-runs)."""
    import optuna

    from runyard.cli._demo_steps import SWEEP_EPOCHS, SWEEP_EXPERIMENT, tune_objective
    from runyard.sweeps import SweepProgress, choice, loguniform, sweep

    with Progress(console=console) as progress:
        task = progress.add_task(f"sweep {SWEEP_NAME}: TPE + ASHA", total=SWEEP_TRIALS)

        def show(p: SweepProgress) -> None:
            progress.update(task, completed=p.complete + p.pruned + p.failed)

        done = sweep(
            tune_objective,
            {"lr": loguniform(1e-3, 0.3), "hidden": choice([32, 64, 128])},
            metric="acc",
            mode="max",
            sampler="tpe",
            scheduler=optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3),
            trials=SWEEP_TRIALS,
            executor="inline",
            experiment=SWEEP_EXPERIMENT,
            name=SWEEP_NAME,
            seed=0,
            tracking_uri=tracking_uri,
            artifact_uri=artifact_uri,
            on_progress=show,
        )
        progress.update(task, completed=SWEEP_TRIALS)  # also when a finished sweep resumes
    table = done.to_pandas()
    stopped = int(((table["state"] == "PRUNED") & (table["steps"] < SWEEP_EPOCHS)).sum())
    best = done.best
    params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in best.params.items())  # fmt: skip
    console.print(
        f"sweep [bold]{SWEEP_NAME}[/]: {len(table)} trials, {stopped} stopped early by ASHA, "
        f"{int(table['steps'].sum())} epochs trained of {len(table) * SWEEP_EPOCHS} without "
        f"early stopping; best acc={best.value:.4f} ({params}); "
        f"[bold]runyard sweep show {SWEEP_NAME}[/]"
    )
    return best.params


def _train_at_scale(
    params: Mapping[str, Any],
    epochs: int,
    tracking_uri: str | None,
    artifact_uri: str | None,
    console: Console,
) -> str:
    """The sweep's best settings in PyTorch on 2 data-parallel workers (``ry.train``).

    A cached pipeline step: a second demo reuses the run.
    """
    from runyard.cli._demo_steps import PIPELINE_EXPERIMENT, train_best

    started = time.perf_counter()
    with console.status(f"training the sweep's best settings on {DDP_WORKERS} workers"):
        result = train_best.run(
            executor="inline",
            store=tracking_uri,
            artifacts=artifact_uri,
            experiment=PIPELINE_EXPERIMENT,
            hidden=int(params["hidden"]),
            lr=float(params["lr"]),
            epochs=epochs,
            workers=DDP_WORKERS,
            tracking_uri=tracking_uri,
            artifact_uri=artifact_uri,
        )
    run_id = str(result.value)
    if result.steps[0].cache.value == "hit":
        how = "reused from the pipeline's cache"
    else:
        how = f"trained in {time.perf_counter() - started:.1f}s, logged as ONNX and evaluated"
    console.print(f"ry.train, {DDP_WORKERS} workers (DDP over gloo): run {run_id} {how}")
    return run_id


def _serve_champion(tracking_uri: str | None, artifact_uri: str | None, console: Console) -> None:
    """``runyard serve`` the champion in its own process, ask it about 8 test digits, stop it."""
    from runyard.cli._demo_serve import serve_and_ask
    from runyard.cli._demo_steps import digits_split

    _, x_test, _, y_test = digits_split()
    with console.status(f"serving models:/{MODEL_NAME}@champion"):
        answer = serve_and_ask(
            MODEL_NAME, x_test[:8].astype("float32"), y_test[:8], tracking_uri, artifact_uri
        )
    right = sum(p == t for p, t in zip(answer.predicted, answer.true, strict=True))
    console.print(
        f"served [bold]models:/{MODEL_NAME}@champion[/] at {answer.url} (Open Inference "
        f"Protocol): predicted {answer.predicted} for digits {answer.true} ({right} of "
        f"{len(answer.true)} right); the server drained and stopped"
    )


def _compare_and_gate(client: Client, baseline: str, candidate: str, console: Console) -> bool:
    """Compare the best run with the runner-up, slice by slice, and gate the promotion."""
    from rich.table import Table

    from runyard.evaluation import compare as compare_results
    from runyard.evaluation import comparison_rows, gate, load_eval, verdict_rows

    cmp = compare_results(load_eval(baseline, client), load_eval(candidate, client))
    headers, rows = comparison_rows(cmp, limit=6)
    table = Table(*headers, title="best (B) vs runner-up (A), paired bootstrap per slice")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    verdict = gate(
        cmp, "accuracy >= 0.9", "no_slice_regression(accuracy, max_drop=0.05, min_size=20)"
    )
    headers, rows = verdict_rows(verdict)
    table = Table(*headers, title="promotion gate: " + ("PASS" if verdict.passed else "FAIL"))
    for row in rows:
        table.add_row(*row, style="green" if row[0] == "PASS" else "red")
    console.print(table)
    console.print(
        f"evaluation stored on each run: [bold]runyard eval show {candidate}[/], "
        f"[bold]runyard eval compare {baseline} {candidate}[/]"
    )
    return verdict.passed


def _register_champion(client: Client, run_id: str, console: Console) -> None:
    """Register the best run's model (once per run); move ``@champion`` to it.

    The alias has a gate of its own, checked on the evaluation stored on the run.
    """
    from runyard.errors import NotFound
    from runyard.registry import list_versions, register_model, set_alias

    try:
        known = [v for v in list_versions(MODEL_NAME, client) if v.run_id == run_id]
    except NotFound:
        known = []
    mv = known[0] if known else register_model(MODEL_NAME, run=run_id, client=client)
    set_alias(MODEL_NAME, "champion", mv.version, gate=CHAMPION_GATE, client=client)
    console.print(
        f"registered [bold]{MODEL_NAME}[/] version {mv.version} (run {run_id}) and moved "
        f"[bold]@champion[/] to it (gate: {CHAMPION_GATE}); next: "
        f"[bold]runyard models show {MODEL_NAME}[/]"
    )


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""

    @app.command("demo")
    def demo(
        epochs: Annotated[int, typer.Option(help="Epochs per model.")] = 15,
        tracking_uri: TrackingUri = None,
        artifact_uri: ArtifactUri = None,
    ) -> None:
        """Train small models on scikit-learn's digits, track them, search and compare."""
        run_demo(tracking_uri, artifact_uri, epochs)
