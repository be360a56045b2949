"""``runyard models ls|show|alias|register`` from the shell's point of view."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from runyard.cli import models
from runyard.cli.errors import exit_code_for
from runyard.errors import RunyardError
from runyard.registry import log_model, resolve_model
from runyard.tracking.client import start_run

pytestmark = pytest.mark.usefixtures("tracking_store")


def _app() -> typer.Typer:
    """The root app once the lead wires ``models``; until then the sub-app alone."""
    from runyard.cli.app import app

    if any(g.name == "models" for g in app.registered_groups):
        return app
    root = typer.Typer()
    root.add_typer(models.app, name="models")
    return root


def test_register_alias_ls_show(torch_mlp: Any, digits: Any) -> None:
    x, _ = digits
    with start_run(experiment="digits") as run:
        log_model(run, torch_mlp, "model", flavor="onnx", input_example=x[:8])
    runner = CliRunner(env={"COLUMNS": "250"})
    app = _app()
    r = runner.invoke(app, ["models", "register", "digits-mlp", "--run", run.run_id])
    assert r.exit_code == 0, r.output
    assert "models:/digits-mlp/1" in r.output
    r = runner.invoke(app, ["models", "alias", "digits-mlp", "champion", "1"])
    assert r.exit_code == 0 and "champion → version 1" in r.output
    assert resolve_model("models:/digits-mlp@champion").version == 1
    r = runner.invoke(app, ["models", "ls"])
    assert "digits-mlp" in r.output and "@champion→1" in r.output
    r = runner.invoke(app, ["models", "show", "digits-mlp"])
    assert "onnx" in r.output and run.run_id in r.output
    r = runner.invoke(app, ["models", "show", "digits-mlp", "1"])
    assert r.exit_code == 0 and "FP32" in r.output and "[-1, 64]" in r.output


def test_gate_refusal_is_an_invalid_argument_exit(torch_mlp: Any, digits: Any) -> None:
    x, _ = digits
    with start_run(experiment="digits") as run:
        log_model(run, torch_mlp, "model", flavor="onnx", input_example=x[:8])
    app = _app()
    runner = CliRunner(env={"COLUMNS": "250"})
    runner.invoke(app, ["models", "register", "digits-mlp", "--run", run.run_id])
    r = runner.invoke(
        app, ["models", "alias", "digits-mlp", "champion", "1", "--gate", "accuracy >= 0.9"]
    )
    assert isinstance(r.exception, RunyardError)
    assert exit_code_for(r.exception)[0] == 2
    assert "no stored evaluation" in str(r.exception)
