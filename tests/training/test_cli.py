"""``runyard train FILE.py:FUNCTION`` as a user types it."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from runyard.cli.train import parse_config, register
from runyard.entities import RunStatus
from runyard.errors import InvalidArgument, NotFound, UserCodeError
from runyard.tracking.client import Client

SCRIPT = """
import torch

def train_loop(ctx):
    torch.manual_seed(0)
    model = ctx.prepare(torch.nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=ctx.config["lr"])
    state = ctx.restore(model=model, optimizer=opt)
    x, y = torch.randn(64, 4), torch.randn(64, 1)
    for epoch in range(state.epoch + 1 if state else 0, ctx.config["epochs"]):
        for xb, yb in ctx.loader((x, y), batch_size=16, epoch=epoch):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(xb), yb)
            loss.backward()
            opt.step()
        ctx.report({"loss": loss}, step=epoch, checkpoint=True)

def broken(ctx):
    raise KeyError("no such column: label")
"""


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("version")
    def version() -> None:  # a second command, so that "train" stays a subcommand
        pass

    return app


@pytest.mark.slow
def test_train_runs_a_function_from_a_file_on_two_workers(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    args = ["train", f"{script}:train_loop", "--workers", "2", "--experiment", "cli"]
    done = CliRunner().invoke(cli(), [*args, "--config", "lr=0.1", "-c", "epochs=2"])

    assert done.exit_code == 0, done.output
    assert "FINISHED" in done.output and "last checkpoint: epoch 1" in done.output
    (run,) = Client().search_runs("cli").items
    assert run.status is RunStatus.FINISHED
    assert run.params == {"lr": "0.1", "epochs": "2"}
    assert run.metrics["loss"].count == 2


@pytest.mark.slow
def test_user_error_from_the_cli_is_a_user_code_error(tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    done = CliRunner().invoke(cli(), ["train", f"{script}:broken", "--experiment", "cli-bad"])
    assert isinstance(done.exception, UserCodeError)
    assert "no such column: label" in str(done.exception)


def test_bad_targets_and_config_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli(), ["train", f"{tmp_path}/nope.py:train_loop"])
    assert isinstance(missing.exception, NotFound) and "no training function file" in str(
        missing.exception
    )
    no_colon = runner.invoke(cli(), ["train", "train_loop"])
    assert isinstance(no_colon.exception, InvalidArgument)
    with pytest.raises(InvalidArgument, match="KEY=VALUE"):
        parse_config(["lr"])
    assert parse_config(["lr=0.05", "name=mlp", "flag=true"]) == {
        "lr": 0.05,
        "name": "mlp",
        "flag": True,
    }
