"""`runyard run`, `runyard run --resume` and `runyard why`, driven as a user types them."""

import os
import textwrap
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from runyard.cli.run import register
from runyard.pipelines.resume import step_runs
from runyard.tracking.store import get_store

PIPELINE = """
import os
import runyard.pipelines as ry

@ry.step
def load(n: int) -> list[int]:
    return list(range(n))

@ry.step
def train(data: list[int], lr: float) -> float:
    if os.environ.get("RUNYARD_TEST_BREAK") == "1":
        raise ValueError("diverged")
    return sum(data) * lr

@ry.step
def best(models: list[float]) -> float:
    return max(models)

@ry.pipeline
def digits(n: int = 10, lrs: list[float] = [0.01, 0.1]):
    data = load(n)
    return best(train.map(data=ry.unmapped(data), lr=lrs))
"""


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[CliRunner, typer.Typer, Path]:
    monkeypatch.setenv("RUNYARD_TRACKING_URI", f"sqlite:///{tmp_path / 'runyard.db'}")
    monkeypatch.setenv("RUNYARD_ARTIFACT_URI", str(tmp_path / "artifacts"))
    app = typer.Typer()
    register(app)
    script = tmp_path / "digits_pipeline.py"
    script.write_text(textwrap.dedent(PIPELINE))
    return CliRunner(), app, script


def _pipeline_runs(tmp_path: Path) -> list[str]:
    store = get_store(f"sqlite:///{tmp_path / 'runyard.db'}")
    try:
        exp = store.get_experiment_by_name("digits")
        assert exp is not None
        runs = store.search_runs(
            [exp.experiment_id], "tags.`runyard.kind` = 'pipeline'", ["start_time asc"]
        )
        return [r.run_id for r in runs.items]
    finally:
        store.close()


def test_run_then_why_explains_the_miss(
    cli: tuple[CliRunner, typer.Typer, Path], tmp_path: Path
) -> None:
    runner, app, script = cli
    first = runner.invoke(
        app, ["run", f"{script}:digits", "--param", "n=5", "--executor", "process:2"]
    )
    assert first.exit_code == 0, first.output
    assert "FINISHED" in first.output and "value: 1.0" in first.output

    second = runner.invoke(app, ["run", f"{script}:digits", "-p", "n=6", "-p", "lrs=[0.01, 0.1]"])
    assert second.exit_code == 0, second.output
    assert "value: 1.5" in second.output
    run_id = _pipeline_runs(tmp_path)[-1]
    why = runner.invoke(app, ["why", run_id, "load"])
    assert why.exit_code == 0, why.output
    assert "param 'n' changed: 5 -> 6" in why.output


def test_a_bad_param_is_a_clear_error(cli: tuple[CliRunner, typer.Typer, Path]) -> None:
    runner, app, script = cli
    result = runner.invoke(app, ["run", f"{script}:digits", "--param", "n=lots"])
    assert result.exit_code != 0
    assert "parameter 'n' expects int, got 'lots'" in str(result.exception)


def test_resume_reruns_only_the_failed_steps(
    cli: tuple[CliRunner, typer.Typer, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, app, script = cli
    monkeypatch.setenv("RUNYARD_TEST_BREAK", "1")
    failed = runner.invoke(app, ["run", f"{script}:digits", "--no-cache"])
    assert failed.exit_code == 7
    assert "diverged" in failed.output
    (failed_run,) = _pipeline_runs(tmp_path)

    monkeypatch.setenv("RUNYARD_TEST_BREAK", "0")
    resumed = runner.invoke(app, ["run", "--resume", failed_run, "--no-cache"])
    assert resumed.exit_code == 0, resumed.output
    assert "value: 4.5" in resumed.output
    store = get_store(os.environ["RUNYARD_TRACKING_URI"])
    try:
        steps = {
            r.name: r.tags["runyard.cache"] for r in step_runs(store, _pipeline_runs(tmp_path)[-1])
        }
    finally:
        store.close()
    assert steps == {"load": "resumed", "train[0]": "off", "train[1]": "off", "best": "off"}
