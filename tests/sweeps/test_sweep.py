"""A user's sweep, run in this process: trials tracked, the best found, failures survived."""

import pytest

import runyard.sweeps as rs
from runyard.errors import InvalidArgument, NotFound, UserCodeError
from runyard.sweeps.records import Tags
from runyard.tracking.client import Client
from tests.sweeps.sweep_objectives import always_fails, conditional, fails_when_negative, quadratic


def test_every_trial_is_a_tracked_child_run_and_the_best_is_near_the_peak(sqlite_uri) -> None:
    result = rs.sweep(
        quadratic, {"x": rs.uniform(-5.0, 5.0)}, metric="score", sampler="tpe", trials=25,
        experiment="quad", name="q1", seed=1, tracking_uri=sqlite_uri,
    )  # fmt: skip
    assert result.counts()["COMPLETE"] == 25
    assert abs(result.best.params["x"] - 2.0) < 1.0
    client = Client(sqlite_uri)
    sweep_run = client.get_run(result.run_id)
    assert sweep_run.tags[Tags.SWEEP_NAME] == "q1"
    assert sweep_run.status.value == "FINISHED"
    children = client.search_runs("quad", filter=f"attributes.parent_run_id = '{result.run_id}'")
    assert len(children) == 25
    best_run = client.get_run(result.best.run_id)
    assert float(best_run.params["x"]) == result.best.params["x"]
    assert best_run.tags[Tags.STATE] == "COMPLETE"
    frame = result.to_pandas()
    assert list(frame.columns[:6]) == ["number", "state", "value", "steps", "duration_s", "run_id"]
    assert sorted(frame["number"]) == list(range(25))
    assert "params.x" in frame.columns


def test_a_failing_trial_keeps_its_traceback_and_the_sweep_goes_on(sqlite_uri) -> None:
    result = rs.sweep(
        fails_when_negative, {"x": rs.uniform(-1.0, 1.0)}, sampler="random", trials=12,
        seed=3, max_consecutive_failures=12, tracking_uri=sqlite_uri,
    )  # fmt: skip
    failed = [t for t in result.trials if t.state.value == "FAILED"]
    assert failed and len(failed) < 12
    run = Client(sqlite_uri).get_run(failed[0].run_id)
    assert run.status.value == "FAILED"
    assert run.tags[Tags.REASON].startswith("ValueError: x=")
    assert "fails_when_negative" in run.tags[Tags.TRACEBACK]
    assert result.best.value >= 0


def test_too_many_failures_in_a_row_stop_the_sweep_with_the_cause(sqlite_uri) -> None:
    with pytest.raises(UserCodeError, match="3 trials failed in a row") as info:
        rs.sweep(
            always_fails, {"x": rs.uniform(0, 1)}, trials=10, max_consecutive_failures=3,
            name="broken", tracking_uri=sqlite_uri,
        )  # fmt: skip
    assert "data loader is broken" in str(info.value)
    swept = rs.load_sweep("broken", tracking_uri=sqlite_uri)
    assert swept.status == "FAILED"
    assert swept.counts()["FAILED"] == 3
    with pytest.raises(NotFound, match="no trial of sweep 'broken' has completed"):
        _ = swept.best


def test_conditional_parameters_are_asked_inside_the_objective(sqlite_uri) -> None:
    result = rs.sweep(
        conditional, None, trials=12, sampler="random", seed=5, tracking_uri=sqlite_uri
    )
    for t in result.trials:
        assert t.state.value == "COMPLETE"
        if t.params["model"] == "linear":
            assert set(t.params) == {"model", "c"}
        else:
            assert set(t.params) == {"model", "depth"}
        run = Client(sqlite_uri).get_run(t.run_id)
        assert set(run.params) == set(t.params)


def test_grid_sampler_visits_each_point_once(sqlite_uri) -> None:
    def objective(trial: rs.Trial) -> float:
        return trial.params["a"] * 10 + trial.params["b"]

    result = rs.sweep(
        objective, {"a": rs.choice([1, 2, 3]), "b": rs.choice([0, 1])}, sampler="grid",
        trials=100, tracking_uri=sqlite_uri,
    )  # fmt: skip
    points = sorted((t.params["a"], t.params["b"]) for t in result.trials)
    assert points == [(a, b) for a in (1, 2, 3) for b in (0, 1)]
    assert result.best.value == 31


def test_bad_arguments_are_refused_before_anything_is_written(sqlite_uri) -> None:
    with pytest.raises(InvalidArgument, match="mode must be 'max' or 'min'"):
        rs.sweep(quadratic, {"x": rs.uniform(0, 1)}, mode="up", tracking_uri=sqlite_uri)
    with pytest.raises(InvalidArgument, match="unknown sampler 'bayes'"):
        rs.sweep(quadratic, {"x": rs.uniform(0, 1)}, sampler="bayes", tracking_uri=sqlite_uri)
    with pytest.raises(InvalidArgument, match="unknown scheduler 'pbt'"):
        rs.sweep(quadratic, {"x": rs.uniform(0, 1)}, scheduler="pbt", tracking_uri=sqlite_uri)
    with pytest.raises(InvalidArgument, match="trials must be a positive integer"):
        rs.sweep(quadratic, {"x": rs.uniform(0, 1)}, trials=0, tracking_uri=sqlite_uri)
    client = Client(sqlite_uri)
    assert [e.name for e in client.list_experiments()] == ["Default"]
    assert len(client.search_runs("Default")) == 0


def test_a_name_in_use_for_another_metric_is_refused(sqlite_uri) -> None:
    rs.sweep(quadratic, {"x": rs.uniform(0, 1)}, metric="acc", trials=2, name="s",
             tracking_uri=sqlite_uri)  # fmt: skip
    with pytest.raises(InvalidArgument, match="exists with metric='acc'"):
        rs.sweep(quadratic, {"x": rs.uniform(0, 1)}, metric="loss", mode="min", trials=2,
                 name="s", tracking_uri=sqlite_uri)  # fmt: skip
    assert len(rs.load_sweep("s", tracking_uri=sqlite_uri).trials) == 2


def test_running_a_finished_sweep_again_with_more_trials_extends_it(sqlite_uri) -> None:
    first = rs.sweep(quadratic, {"x": rs.uniform(0, 4)}, trials=4, name="grow",
                     tracking_uri=sqlite_uri)  # fmt: skip
    before = {t.number: t.run_id for t in first.trials}
    again = rs.sweep(quadratic, {"x": rs.uniform(0, 4)}, trials=7, name="grow",
                     tracking_uri=sqlite_uri)  # fmt: skip
    after = {t.number: t.run_id for t in again.trials}
    assert sorted(after) == list(range(7))
    assert {n: after[n] for n in before} == before
