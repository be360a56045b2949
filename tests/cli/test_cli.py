"""The ``runyard`` console script, run as a user runs it: a real process."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np

import runyard as ry


def runyard(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        ["runyard", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_demo_trains_tracks_searches_and_compares(tmp_path: Path) -> None:
    done = runyard("demo", "--epochs", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "runs with acc > 0.5" in done.stdout
    assert "best: mlp-" in done.stdout
    assert "artifacts: eval/failures.parquet, eval/results.parquet, model/model." in done.stdout
    # The runs landed in the embedded default store of the project-local home: the grid's
    # four scikit-learn models and the PyTorch one trained with ry.train on 2 workers.
    runs = ry.Client().search_runs("digits-demo", order_by=["metrics.acc desc"])
    assert len(runs) == 5
    assert sum(r.name.startswith("ddp-") for r in runs.items) == 1
    assert all(r.status is ry.RunStatus.FINISHED for r in runs)
    assert runs.items[0].metrics["acc"].latest > 0.8
    assert runs.items[0].metrics["acc"].count == 3

    listed = runyard("runs", "ls", "digits-demo", "-f", "params.hidden = '128'", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "mlp-h128-lr0.01" in listed.stdout and "mlp-h32" not in listed.stdout

    mlp = next(r for r in runs.items if r.name.startswith("mlp-"))
    shown = runyard("runs", "show", mlp.run_id, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "model/model.pkl" in shown.stdout and "train_acc" in shown.stdout

    ids = [r.run_id for r in runs.items[:2]]
    compared = runyard("runs", "compare", *ids, cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr
    assert "params.lr" in compared.stdout

    exps = runyard("experiments", "ls", cwd=tmp_path)
    assert "digits-demo" in exps.stdout

    # every model was evaluated per slice, stored on its run, then compared and gated
    assert "promotion gate" in done.stdout
    best, second = runs.items[0], runs.items[1]
    assert best.metrics["eval/overall/accuracy"].latest == best.metrics["acc"].latest
    assert "eval/digits=0-4/accuracy" in best.metrics
    shown = runyard("eval", "show", best.run_id, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "overall" in shown.stdout and "digits=5-9" in shown.stdout
    assert "worst slices" in shown.stdout
    passing = runyard(
        "eval", "compare", second.run_id, best.run_id, "--gate", "accuracy >= 0.5", cwd=tmp_path
    )
    assert passing.returncode == 0, passing.stderr
    assert "PASS" in passing.stdout
    failing = runyard(
        "eval",
        "compare",
        second.run_id,
        best.run_id,
        "--gate",
        "accuracy >= 0.999",
        cwd=tmp_path,
    )
    assert failing.returncode == 1
    assert "FAIL" in failing.stdout
    bad_rule = runyard(
        "eval", "compare", second.run_id, best.run_id, "--gate", "accuracy >=", cwd=tmp_path
    )
    assert bad_rule.returncode == 2 and "Traceback" not in bad_rule.stderr


def test_demo_trains_as_a_cached_pipeline_sweeps_and_registers_the_champion(tmp_path: Path) -> None:
    first = runyard("demo", "--epochs", "3", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "trained 4 models, 0 from the pipeline's cache" in first.stdout
    assert "ry.train, 2 workers (DDP over gloo)" in first.stdout
    runs = ry.Client().search_runs("digits-demo", order_by=["metrics.acc desc"]).items
    top = {r.run_id for r in runs if r.metrics["acc"].latest == runs[0].metrics["acc"].latest}
    # the gated winner is version 1 of digits-mlp, @champion, in its flavor
    shown = runyard("models", "show", "digits-mlp", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "@champion" in shown.stdout
    from runyard.registry import list_versions, load_model

    (version,) = list_versions("digits-mlp")
    assert version.run_id in top and version.aliases == ("champion",)
    x = np.random.default_rng(0).random((3, 64), dtype=np.float32)
    predicted = load_model("models:/digits-mlp@champion").predict({"input": x})
    assert all(len(v) == 3 for v in predicted.values())
    # ... and runyard serve answered for it over the Open Inference Protocol, then stopped
    served = re.search(
        r"served models:/digits-mlp@champion at (\S+) .*\((\d) of 8 right\)", first.stdout
    )
    assert served is not None, first.stdout
    assert int(served.group(2)) >= 6

    # a sweep with early stopping ran: 12 trials, some stopped before their 9 epochs
    sweep = ry.load_sweep("digits-demo-mlp")
    trials = sweep.to_pandas()
    assert len(trials) == 12 and (trials["steps"] < 9).any()
    assert set(trials["state"]) <= {"COMPLETE", "PRUNED"}
    assert f"best acc={sweep.best.value:.4f}" in first.stdout

    # the same demo again: every model comes from the cache; no new runs, no new version;
    # the sweep resumes finished (no trial runs again)
    again = runyard("demo", "--epochs", "3", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "trained 0 models, 4 from the pipeline's cache" in again.stdout
    assert "reused from the pipeline's cache" in again.stdout
    assert len(ry.load_sweep("digits-demo-mlp").to_pandas()) == 12
    assert len(ry.Client().search_runs("digits-demo")) == 5
    assert [v.version for v in list_versions("digits-mlp")] == [1]
    # the pipeline and its step runs are kept apart from the models' runs
    pipeline_runs = ry.Client().search_runs("digits-demo-pipeline")
    names = [r.name for r in pipeline_runs.items]
    assert names.count("train_grid") == 2 and names.count("train_best") == 2


def test_errors_print_one_line_and_exit_with_their_code(tmp_path: Path) -> None:
    missing = runyard("runs", "show", "f" * 32, cwd=tmp_path)
    assert missing.returncode == 3
    assert "not found" in missing.stderr and "Traceback" not in missing.stderr
    with ry.start_run(experiment="e"):
        pass
    bad = runyard("runs", "ls", "e", "--filter", "metrics.acc >> 1", cwd=tmp_path)
    assert bad.returncode == 2
    assert "^" in bad.stderr and "Traceback" not in bad.stderr
