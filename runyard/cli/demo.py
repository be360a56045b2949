"""``runyard demo``: the end-to-end loop on embedded defaults (SQLite, local folder).

Trains small MLPs on scikit-learn's bundled digits data with a few learning rates and
hidden sizes, logs params, per-epoch metrics and the model as an artifact, evaluates each
model per slice with bootstrap intervals (stored on its run), searches the runs, compares
the best model with the runner-up slice by slice and gates the promotion. It grows with
every capability runyard gains.
"""

from __future__ import annotations

import pickle
import tempfile
import time
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress

from runyard.cli.options import ArtifactUri, TrackingUri
from runyard.cli.tables import compare_table, runs_table
from runyard.tracking.client import Client, start_run

__all__ = ["register", "run_demo"]

GRID = [
    {"lr": 0.001, "hidden": 32},
    {"lr": 0.01, "hidden": 32},
    {"lr": 0.01, "hidden": 128},
    {"lr": 0.1, "hidden": 64},
]


def _train_one(
    params: dict[str, Any],
    data: tuple[Any, ...],
    epochs: int,
    experiment: str,
    tmp: Path,
    tracking_uri: str | None,
    artifact_uri: str | None,
) -> str:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x_train, x_test, y_train, y_test = data
    with start_run(
        experiment=experiment,
        name=f"mlp-h{params['hidden']}-lr{params['lr']}",
        params={**params, "epochs": epochs, "dataset": "sklearn.digits"},
        tags={"demo": "digits"},
        tracking_uri=tracking_uri,
        artifact_uri=artifact_uri,
    ) as run:
        model = MLPClassifier(
            hidden_layer_sizes=(params["hidden"],),
            learning_rate_init=params["lr"],
            random_state=0,
            max_iter=1,
            warm_start=True,
        )
        for epoch in range(epochs):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(x_train, y_train)
            run.log_metrics(
                {
                    "loss": float(model.loss_),
                    "train_acc": float(model.score(x_train, y_train)),
                    "acc": float(model.score(x_test, y_test)),
                },
                step=epoch,
            )
        path = tmp / "model.pkl"
        path.write_bytes(pickle.dumps(model))
        run.log_artifact(path, "model")
        run.log_lineage(inputs={"sklearn.datasets.load_digits": "dataset"})
        _evaluate(model, x_test, y_test, run)
        return run.run_id


def _evaluate(model: Any, x_test: Any, y_test: Any, run: Any) -> None:
    """Per-example predictions → metrics per slice with intervals, stored on the run."""
    import numpy as np
    import pyarrow as pa

    from runyard.evaluation import bucket, evaluate

    ink = x_test.sum(axis=1)  # how much ink the digit uses: a natural slice
    table = pa.table(
        {
            "example_id": np.arange(len(y_test)),
            "y": y_test,
            "y_hat": model.predict(x_test),
            "digits": np.where(y_test < 5, "0-4", "5-9"),
            "ink": ink,
        }
    )
    evaluate(
        table,
        label="y",
        prediction="y_hat",
        slices=[
            "digits",
            bucket("ink", [float(np.quantile(ink, 1 / 3)), float(np.quantile(ink, 2 / 3))]),
        ],
        crosses=2,
        metrics=["accuracy", "f1_macro"],
        bootstrap=200,
        min_size=20,
        run=run,
    )


def run_demo(
    tracking_uri: str | None = None,
    artifact_uri: str | None = None,
    epochs: int = 15,
    console: Console | None = None,
) -> list[str]:
    """Run the demo loop and print what it found; returns the run ids it created."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    console = console or Console()
    digits = load_digits()
    data = train_test_split(digits.data / 16.0, digits.target, test_size=0.25, random_state=0)
    experiment = "digits-demo"
    run_ids = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, Progress(console=console) as progress:
        task = progress.add_task("training MLPs on digits", total=len(GRID))
        for params in GRID:
            run_ids.append(
                _train_one(params, data, epochs, experiment, Path(tmp), tracking_uri, artifact_uri)
            )
            progress.advance(task)
    console.print(f"trained {len(GRID)} models in {time.perf_counter() - started:.1f}s")

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
        _compare_and_gate(client, best.items[1].run_id, best.items[0].run_id, console)
    return run_ids


def _compare_and_gate(client: Client, baseline: str, candidate: str, console: Console) -> None:
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
