"""A sweep on a real Ray cluster on loopback: trials are child runs, ASHA prunes at rungs."""

from __future__ import annotations

import optuna
import pytest

import runyard.sweeps as rs
from runyard.executors.ray import RayExecutor
from runyard.sweeps.records import Tags
from runyard.tracking.client import Client
from tests.ray.cluster import RayCluster
from tests.sweeps.sweep_objectives import epochs_on_ray

pytestmark = pytest.mark.slow

RUNGS = (1, 3, 9)  # min_resource 1, reduction factor 3, steps 1..9


def test_an_asha_sweep_on_ray_tracks_every_trial_and_prunes_at_rungs(
    sweep_ray_cluster: RayCluster, sqlite_uri: str
) -> None:
    executor = RayExecutor(address=sweep_ray_cluster.address)
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    result = rs.sweep(
        epochs_on_ray, {"x": rs.uniform(-5.0, 5.0)}, metric="score", sampler="random",
        scheduler=pruner, trials=16, concurrency=2, executor=executor, seed=11,
        experiment="on-ray", name="asha-on-ray", tracking_uri=sqlite_uri,
    )  # fmt: skip

    assert result.status == "FINISHED"
    counts = result.counts()
    assert counts["COMPLETE"] + counts["PRUNED"] == 16
    assert counts["PRUNED"] >= 4, counts

    client = Client(sqlite_uri)
    children = client.search_runs(
        "on-ray", filter=f"attributes.parent_run_id = '{result.run_id}'", max_results=100
    )
    assert len(children) == 16
    by_id = {run.run_id: run for run in children}
    for trial in result.trials:
        run = by_id[trial.run_id]
        # every trial ran as a Ray task, not in the driver, and says how it ended
        assert run.tags["test.ray_task"] not in ("", "driver")
        assert run.tags[Tags.STATE] == trial.state.value
        assert run.status.value == "FINISHED"
        assert float(run.params["x"]) == pytest.approx(trial.params["x"])
        history = client.get_metric_history(trial.run_id, "score", format="series")[0]
        assert list(history.steps) == list(range(1, trial.steps + 1))
        if trial.state.value == "PRUNED":
            assert trial.last_step in RUNGS
            assert run.tags[Tags.REASON].startswith(f"pruned at step {trial.last_step} by ")
        else:
            assert trial.steps == 9 and run.tags[Tags.REASON] == "completed"
    # the most promising trial (x nearest 2 scores best at every step) is never stopped,
    # and the scheduler stopped some trial after its first epoch
    closest = min(result.trials, key=lambda t: abs(t.params["x"] - 2.0))
    assert closest.state.value == "COMPLETE"
    assert result.best.run_id == closest.run_id
    assert any(t.last_step == 1 for t in result.trials if t.state.value == "PRUNED")
