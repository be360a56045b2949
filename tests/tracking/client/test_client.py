"""The tracking client as a user drives it: start_run, log, search, read back."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import runyard as ry
from runyard.errors import InvalidArgument, InvalidFilter, NotFound, ParamConflict


def test_the_readme_story(tmp_path: Path) -> None:
    model = tmp_path / "model.pt"
    model.write_bytes(b"weights" * 100)
    with ry.start_run(experiment="digits", params={"lr": 0.1}, tags={"team": "perception"}) as run:
        run.log_metrics({"loss": 0.3, "acc": 0.91}, step=1)
        run.log_metrics({"loss": 0.2, "acc": 0.95}, step=2)
        run.log_artifact(model)
    with ry.start_run(experiment="digits", params={"lr": 0.01}) as other:
        other.log_metrics({"acc": 0.5}, step=1)

    client = ry.Client()
    found = client.search_runs(
        "digits", filter="metrics.acc > 0.9 and params.lr = '0.1'", order_by=["metrics.acc desc"]
    )
    assert [r.run_id for r in found] == [run.run_id]
    got = found.items[0]
    assert got.status is ry.RunStatus.FINISHED
    assert got.params == {"lr": "0.1"}
    assert got.tags["team"] == "perception"
    assert got.metrics["acc"].latest == 0.95
    assert got.metrics["loss"].min == 0.2
    assert got.end_time is not None and got.end_time >= got.start_time

    table = client.get_metric_history([run.run_id, other.run_id], "acc")
    assert table.column_names == ["run_id", "key", "step", "value", "timestamp"]
    assert table.num_rows == 3
    frame = client.get_metric_history(run.run_id, "acc", format="pandas")
    assert list(frame["value"]) == [0.91, 0.95]
    assert list(frame["step"]) == [1, 2]

    [ref] = client.list_artifacts(run.run_id)
    assert ref.path == "model.pt" and ref.size == 700 and ref.digest.startswith("sha256:")
    assert client.read_artifact(run.run_id, "model.pt") == b"weights" * 100
    out = client.download_artifacts(run.run_id, "model.pt", tmp_path / "dl")
    assert out.read_bytes() == model.read_bytes()


def test_exception_marks_failed_and_keeps_logged_metrics() -> None:
    with pytest.raises(ZeroDivisionError), ry.start_run(experiment="e") as run:
        run.log_metric("x", 1.0, step=0)
        1 / 0  # noqa: B018
    info = ry.Client().get_run(run.run_id)
    assert info.status is ry.RunStatus.FAILED
    assert info.metrics["x"].latest == 1.0
    assert "ZeroDivisionError" in info.tags["runyard.error"]


def test_keyboard_interrupt_marks_killed() -> None:
    with pytest.raises(KeyboardInterrupt), ry.start_run(experiment="e") as run:
        raise KeyboardInterrupt
    assert ry.Client().get_run(run.run_id).status is ry.RunStatus.KILLED


def test_ctrl_c_in_a_real_process_marks_killed(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    ready = tmp_path / "ready"
    script.write_text(
        textwrap.dedent(
            f"""
            import time, pathlib, runyard as ry
            with ry.start_run(experiment="sig") as run:
                run.log_metric("x", 1.0)
                pathlib.Path({str(ready)!r}).write_text(run.run_id)
                time.sleep(60)
            """
        )
    )
    proc = subprocess.Popen([sys.executable, str(script)], env=os.environ.copy())
    try:
        for _ in range(600):
            if ready.exists() and ready.read_text():
                break
            if proc.poll() is not None:
                pytest.fail("the script died before it was ready")
            import time

            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    info = ry.Client().get_run(ready.read_text())
    assert info.status is ry.RunStatus.KILLED
    assert info.metrics["x"].latest == 1.0


def test_nested_runs_record_their_parent() -> None:
    with ry.start_run(experiment="n") as outer:
        with ry.start_run(experiment="n", nested=True) as inner:
            assert ry.active_run() is inner
        assert ry.active_run() is outer
    assert ry.Client().get_run(inner.run_id).parent_run_id == outer.run_id
    with pytest.raises(InvalidArgument, match="no run is active"):
        ry.start_run(experiment="n", nested=True)


def test_non_finite_values_roundtrip_and_bad_steps_are_refused() -> None:
    with ry.start_run(experiment="nf") as run:
        run.log_metric("v", float("nan"), step=0)
        run.log_metric("v", float("inf"), step=1)
        run.log_metric("v", float("-inf"), step=2)
        with pytest.raises(InvalidArgument, match="step"):
            run.log_metric("v", 1.0, step=float("nan"))  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument, match="step"):
            run.log_metric("v", 1.0, step=1.5)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument, match="limit"):
            run.log_metric("k" * 300, 1.0)
    values = list(ry.Client().get_metric_history(run.run_id, "v")["value"].to_pylist())
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf]


def test_param_overwrite_is_refused_and_keeps_the_first_value() -> None:
    with ry.start_run(experiment="p", params={"lr": 0.1}) as run:
        run.log_param("lr", 0.1)  # the same value again is fine
        with pytest.raises(ParamConflict, match="lr"):
            run.log_param("lr", 0.2)
    assert ry.Client().get_run(run.run_id).params["lr"] == "0.1"


def test_bad_filter_points_at_the_token_and_unknown_run_is_not_found() -> None:
    with ry.start_run(experiment="f"):
        pass
    with pytest.raises(InvalidFilter) as info:
        ry.Client().search_runs("f", filter="metrics.acc >> 0.9")
    assert info.value.position > 0
    with pytest.raises(NotFound):
        ry.Client().get_run("0" * 32)
    with pytest.raises(NotFound):
        ry.Client().search_runs("no-such-experiment")


def test_many_points_are_batched_and_all_arrive() -> None:
    with ry.start_run(experiment="bulk") as run:
        for step in range(5000):
            run.log_metrics({"a": step, "b": -step}, step=step)
    series = ry.Client().get_metric_history(run.run_id, "b", format="series")[0]
    assert len(series) == 5000
    assert list(series.values[:3]) == [0.0, -1.0, -2.0]


def test_system_metrics_are_sampled_on_request() -> None:
    import time

    with ry.start_run(
        experiment="sys", log_system_metrics=True, system_metrics_interval=0.1
    ) as run:
        time.sleep(0.5)
    metrics = ry.Client().get_run(run.run_id).metrics
    assert metrics["system/cpu_percent"].count >= 2
    assert metrics["system/process_rss_mb"].latest > 1


def test_resume_an_ended_run_by_id() -> None:
    with ry.start_run(experiment="r") as run:
        run.log_metric("x", 1.0, step=0)
    with ry.start_run(run_id=run.run_id) as again:
        again.log_metric("x", 2.0, step=1)
    info = ry.Client().get_run(run.run_id)
    assert info.status is ry.RunStatus.FINISHED and info.metrics["x"].count == 2
