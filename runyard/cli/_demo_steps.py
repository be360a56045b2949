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
    "train_best",
    "train_distributed",
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


def sklearn_mlp(hidden: int, lr: float) -> Any:
    """The demo's scikit-learn MLP, trained one epoch per ``fit`` (``fit_one_epoch``)."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=(hidden,),
        learning_rate_init=lr,
        random_state=0,
        max_iter=1,
        warm_start=True,
    )


def fit_one_epoch(model: Any, x: Any, y: Any) -> None:
    """One more epoch (its "not converged" warning is the point of stopping after one)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)


@step
def train_mlp(
    hidden: int, lr: float, epochs: int, tracking_uri: str | None, artifact_uri: str | None
) -> str:
    """Train one MLP for ``epochs`` epochs as a tracked run; return its run id."""
    x_train, x_test, y_train, y_test = digits_split()
    with start_run(
        experiment=EXPERIMENT,
        name=f"mlp-h{hidden}-lr{lr}",
        params={"lr": lr, "hidden": hidden, "epochs": epochs, "dataset": "sklearn.digits"},
        tags={"demo": "digits"},
        tracking_uri=tracking_uri,
        artifact_uri=artifact_uri,
    ) as run:
        model = sklearn_mlp(hidden, lr)
        for epoch in range(epochs):
            fit_one_epoch(model, x_train, y_train)
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
    x_train, x_test, y_train, y_test = digits_split()
    model = sklearn_mlp(int(trial.params["hidden"]), float(trial.params["lr"]))
    acc = 0.0
    for epoch in range(SWEEP_EPOCHS):
        fit_one_epoch(model, x_train, y_train)
        acc = float(model.score(x_test, y_test))
        trial.report(acc, step=epoch + 1)  # epochs done: the scheduler's resource
    return acc


def torch_mlp(hidden: int) -> Any:
    """The PyTorch version of the demo's MLP (64 pixels → ``hidden`` → 10 digits)."""
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10)
    )


def ddp_loop(ctx: Any) -> None:
    """``ry.train``'s loop: the MLP with DDP, each rank on its share of every epoch."""
    import torch

    x_train, x_test, y_train, y_test = (torch.tensor(a) for a in digits_split())
    x_train, x_test = x_train.float(), x_test.float()
    model = ctx.prepare(torch_mlp(ctx.config["hidden"]))
    opt = torch.optim.Adam(model.parameters(), lr=ctx.config["lr"])
    state = ctx.restore(model=model, optimizer=opt)
    last = ctx.config["epochs"] - 1
    for epoch in range(state.epoch + 1 if state else 0, last + 1):
        model.train()
        for xb, yb in ctx.loader((x_train, y_train), batch_size=32, epoch=epoch):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
        model.eval()
        with torch.no_grad():
            acc = (model(x_test).argmax(1) == y_test).float().mean()
        ctx.report({"loss": loss, "acc": acc}, step=epoch, checkpoint=epoch == last)


class _TorchClassifier:
    """``predict(x)`` → digit, what ``evaluate_on_slices`` asks of a model."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, x: Any) -> Any:
        import torch

        with torch.no_grad():
            return self.model(torch.tensor(x, dtype=torch.float32)).argmax(1).numpy()


@step
def train_distributed(
    hidden: int,
    lr: float,
    epochs: int,
    workers: int,
    tracking_uri: str | None,
    artifact_uri: str | None,
) -> str:
    """Train the PyTorch MLP on ``workers`` local processes with ``ry.train``.

    The model is logged as ONNX (checked for parity with the module) and evaluated on the
    slices on the training run; returns the run id.
    """
    from runyard.training import load_checkpoint, train

    result = train(
        ddp_loop,
        config={"hidden": hidden, "lr": lr, "epochs": epochs},
        workers=workers,
        executor="process",
        experiment=EXPERIMENT,
        run_name=f"ddp-h{hidden}-lr{lr:.3g}",
        tracking_uri=tracking_uri,
        artifact_uri=artifact_uri,
    )
    assert result.checkpoint is not None  # the loop checkpoints its last epoch
    model = torch_mlp(hidden)
    model.load_state_dict(load_checkpoint(result.checkpoint)["model"])
    model.eval()
    _, x_test, _, y_test = digits_split()
    with start_run(
        run_id=result.run_id, tracking_uri=tracking_uri, artifact_uri=artifact_uri
    ) as run:
        run.set_tags({"demo": "digits", "trained_with": f"ry.train, {workers} workers"})
        run.log_model(model, "model", flavor="onnx", input_example=x_test[:4].astype("float32"))
        run.log_lineage(inputs={"sklearn.datasets.load_digits": "dataset"})
        evaluate_on_slices(_TorchClassifier(model), x_test, y_test, run)
    return result.run_id


@pipeline
def train_best(
    hidden: int,
    lr: float,
    epochs: int = 15,
    workers: int = 2,
    tracking_uri: str | None = None,
    artifact_uri: str | None = None,
) -> Any:
    """``train_distributed`` as a pipeline of one step, so that it is cached."""
    return train_distributed(
        hidden=hidden,
        lr=lr,
        epochs=epochs,
        workers=workers,
        tracking_uri=tracking_uri,
        artifact_uri=artifact_uri,
    )
