"""The demo's training as a cached pipeline: one step call per grid point.

Imported by ``runyard demo`` only when it runs, so the CLI starts without the pipeline
machinery. Each call trains one MLP on scikit-learn's digits, logs it as a tracked run (params,
per-epoch metrics, the model in its scikit-learn flavor, the dataset's lineage, a sliced
evaluation) and returns the run id. The step is cached by content: running the demo again
with the same grid and epochs answers every call from the cache, so no model is retrained and
no duplicate runs appear. ``tune_objective`` is the demo sweep's objective: the same model,
reported epoch by epoch so that ASHA can stop it.
"""

from __future__ import annotations

import warnings
from typing import Any

from runyard.pipelines import pipeline, step
from runyard.tracking.client import start_run

__all__ = [
    "EXPERIMENT",
    "PIPELINE_EXPERIMENT",
    "SWEEP_EPOCHS",
    "SWEEP_EXPERIMENT",
    "train_grid",
    "train_mlp",
    "tune_objective",
]

EXPERIMENT = "digits-demo"  # the models' runs
PIPELINE_EXPERIMENT = "digits-demo-pipeline"  # the pipeline's run and its step runs
SWEEP_EXPERIMENT = "digits-demo-sweep"  # the sweep's run and its trial runs
SWEEP_EPOCHS = 9  # a sweep trial's most epochs


def digits_split() -> tuple[Any, Any, Any, Any]:
    """scikit-learn's bundled digits, scaled to [0, 1]: x_train, x_test, y_train, y_test."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    split = train_test_split(digits.data / 16.0, digits.target, test_size=0.25, random_state=0)
    return split[0], split[1], split[2], split[3]


@step
def train_mlp(
    hidden: int, lr: float, epochs: int, tracking_uri: str | None, artifact_uri: str | None
) -> str:
    """Train one MLP for ``epochs`` epochs as a tracked run; return its run id."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x_train, x_test, y_train, y_test = digits_split()
    with start_run(
        experiment=EXPERIMENT,
        name=f"mlp-h{hidden}-lr{lr}",
        params={"lr": lr, "hidden": hidden, "epochs": epochs, "dataset": "sklearn.digits"},
        tags={"demo": "digits"},
        tracking_uri=tracking_uri,
        artifact_uri=artifact_uri,
    ) as run:
        model = MLPClassifier(
            hidden_layer_sizes=(hidden,),
            learning_rate_init=lr,
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
        run.log_model(model, "model", input_example=x_test[:4].astype("float32"))
        run.log_lineage(inputs={"sklearn.datasets.load_digits": "dataset"})
        evaluate_on_slices(model, x_test, y_test, run)
        return run.run_id


def evaluate_on_slices(model: Any, x_test: Any, y_test: Any, run: Any) -> None:
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


@pipeline
def train_grid(
    hidden: list[int],
    lr: list[float],
    epochs: int = 15,
    tracking_uri: str | None = None,
    artifact_uri: str | None = None,
) -> Any:
    """Fan ``train_mlp`` out over the grid (``hidden`` and ``lr`` zipped)."""
    return train_mlp.map(
        hidden=hidden, lr=lr, epochs=epochs, tracking_uri=tracking_uri, artifact_uri=artifact_uri
    )


def tune_objective(trial: Any) -> float:
    """A sweep trial: one MLP, one epoch at a time, reported so the scheduler can stop it."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x_train, x_test, y_train, y_test = digits_split()
    model = MLPClassifier(
        hidden_layer_sizes=(int(trial.params["hidden"]),),
        learning_rate_init=float(trial.params["lr"]),
        random_state=0,
        max_iter=1,
        warm_start=True,
    )
    acc = 0.0
    for epoch in range(SWEEP_EPOCHS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x_train, y_train)
        acc = float(model.score(x_test, y_test))
        trial.report(acc, step=epoch + 1)  # epochs done: the scheduler's resource
    return acc
