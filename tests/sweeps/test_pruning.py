"""Early stopping on worker processes: hopeless trials end PRUNED at an early step, with why."""

import pytest

import runyard.sweeps as rs
from runyard.errors import InvalidArgument, NotFound
from runyard.sweeps.records import Tags
from runyard.tracking.client import Client
from tests.sweeps.sweep_objectives import curve, epochs_done


@pytest.mark.parametrize("scheduler", ["asha", "hyperband"])
def test_bad_trials_are_stopped_early_on_a_process_pool(sqlite_uri, scheduler) -> None:
    result = rs.sweep(
        curve, {"x": rs.uniform(-5.0, 5.0)}, metric="score", sampler="random",
        scheduler=scheduler, trials=14, concurrency=2, executor="process", seed=7,
        tracking_uri=sqlite_uri,
    )  # fmt: skip
    trials = result.trials
    pruned = [t for t in trials if t.state.value == "PRUNED"]
    complete = [t for t in trials if t.state.value == "COMPLETE"]
    assert len(trials) == 14
    assert pruned, "the scheduler stopped nothing"
    assert all(t.steps < 9 for t in pruned)
    assert all(t.steps == 9 for t in complete)
    # the best trial always runs to the end
    assert result.best.value == max(t.value for t in complete)
    client = Client(sqlite_uri)
    run = client.get_run(pruned[0].run_id)
    assert run.tags[Tags.STATE] == "PRUNED"
    assert "pruned at step" in run.tags[Tags.REASON]
    history = client.get_metric_history(pruned[0].run_id, "score", format="series")[0]
    assert len(history) == pruned[0].steps


def test_a_pruned_trial_stops_exactly_at_its_rung_on_a_process_pool(sqlite_uri) -> None:
    import optuna

    asha = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    result = rs.sweep(
        epochs_done, {"x": rs.uniform(-5.0, 5.0)}, metric="score", sampler="random",
        scheduler=asha, trials=12, concurrency=2, executor="process", seed=5,
        tracking_uri=sqlite_uri,
    )  # fmt: skip
    pruned = [t for t in result.trials if t.state.value == "PRUNED"]
    assert pruned
    client = Client(sqlite_uri)
    for trial in pruned:
        # stopped by the rung's decision at once: not one epoch more was trained or logged
        assert trial.last_step in (1, 3, 9)
        history = client.get_metric_history(trial.run_id, "score", format="series")[0]
        assert list(history.steps) == list(range(1, trial.last_step + 1))
    assert any(t.last_step == 1 for t in pruned)


def test_median_rule_stops_trials_below_the_median_inline(sqlite_uri) -> None:
    import optuna

    result = rs.sweep(
        curve, {"x": rs.uniform(-5.0, 5.0)}, metric="score", sampler="random",
        scheduler=optuna.pruners.MedianPruner(n_startup_trials=3), trials=12, seed=2,
        tracking_uri=sqlite_uri,
    )  # fmt: skip
    states = [t.state.value for t in result.trials]
    assert "PRUNED" in states
    assert states[:3] == ["COMPLETE"] * 3


def test_objective_may_stop_itself_and_use_the_trial_run(sqlite_uri) -> None:
    def objective(trial: rs.Trial) -> float:
        trial.report(0.5, 0)
        assert trial.run is not None
        trial.run.log_metrics({"loss": 1.5}, step=0)
        if trial.params["x"] < 0.5:
            raise rs.TrialPruned("diverged")
        return 1.0

    result = rs.sweep(objective, {"x": rs.choice([0.1, 0.9])}, sampler="grid", trials=2,
                      tracking_uri=sqlite_uri)  # fmt: skip
    by_x = {t.params["x"]: t for t in result.trials}
    assert by_x[0.1].state.value == "PRUNED" and by_x[0.1].reason == "diverged"
    assert by_x[0.9].state.value == "COMPLETE"
    summary = Client(sqlite_uri).get_run(by_x[0.9].run_id).metrics
    assert summary["loss"].latest == 1.5


@pytest.mark.postgres
def test_asha_sweep_on_postgres_with_process_workers(pg_sweep_database) -> None:
    uri = pg_sweep_database()
    result = rs.sweep(
        curve, {"x": rs.uniform(-5.0, 5.0)}, metric="score", sampler="tpe", scheduler="asha",
        trials=10, concurrency=2, executor="process", seed=3, name="pg", tracking_uri=uri,
    )  # fmt: skip
    counts = result.counts()
    assert counts["COMPLETE"] + counts["PRUNED"] == 10
    assert counts["PRUNED"] > 0
    assert rs.load_sweep("pg", tracking_uri=uri).best.run_id == result.best.run_id


def _dips(trial: rs.Trial) -> float:
    """A good trial whose value dips once at step 2, as a noisy validation metric does."""
    values = {1: 0.8, 2: 0.3, 3: 0.85} if trial.params["kind"] == "noisy" else {1: 0.2, 2: 0.2}
    for step, value in values.items():
        trial.report(value, step)
    return value


@pytest.mark.parametrize(("prune_on", "noisy_state"), [("best", "COMPLETE"), ("last", "PRUNED")])
def test_a_noisy_dip_stops_a_good_trial_only_when_judged_on_its_last_value(
    sqlite_uri, prune_on, noisy_state
) -> None:
    import optuna

    result = rs.sweep(
        _dips, {"kind": rs.choice(["noisy", "bad"])}, metric="acc", sampler="grid",
        scheduler=optuna.pruners.ThresholdPruner(lower=0.5), prune_on=prune_on, trials=2,
        tracking_uri=sqlite_uri,
    )  # fmt: skip
    by_kind = {t.params["kind"]: t for t in result.trials}
    assert by_kind["noisy"].state.value == noisy_state
    assert by_kind["bad"].state.value == "PRUNED" and by_kind["bad"].last_step == 1
    if prune_on == "last":
        assert by_kind["noisy"].last_step == 2
        assert "acc=0.3" in by_kind["noisy"].reason
    else:
        assert by_kind["noisy"].value == pytest.approx(0.85)
        assert result.best.value == pytest.approx(0.85)
    # the run keeps every value the trial reported, dips included
    history = Client(sqlite_uri).get_metric_history(by_kind["noisy"].run_id, "acc", format="series")
    assert list(history[0].values)[:2] == pytest.approx([0.8, 0.3])


def test_the_reason_names_the_best_value_the_scheduler_judged(sqlite_uri) -> None:
    import optuna

    def falls(trial: rs.Trial) -> float:
        for step, loss in enumerate((0.4, 0.9, 0.95), 1):  # minimised: best so far stays 0.4
            trial.report(loss, step)
        return loss

    result = rs.sweep(
        falls, {"x": rs.uniform(0.0, 1.0)}, metric="loss", mode="min", sampler="random",
        scheduler=optuna.pruners.ThresholdPruner(upper=0.3, n_warmup_steps=2), trials=1,
        tracking_uri=sqlite_uri,
    )  # fmt: skip
    trial = result.trials[0]
    assert trial.state.value == "PRUNED" and trial.last_step == 2
    assert "loss=0.9, best so far 0.4" in trial.reason


def test_an_unknown_prune_on_is_refused_before_anything_runs(sqlite_uri) -> None:
    with pytest.raises(InvalidArgument, match="prune_on must be 'best' or 'last'"):
        rs.sweep(_dips, {"kind": rs.choice(["noisy"])}, prune_on="mean", scheduler="asha",
                 name="refused", tracking_uri=sqlite_uri)  # fmt: skip
    with pytest.raises(NotFound):
        rs.load_sweep("refused", tracking_uri=sqlite_uri)


def test_asha_by_name_judges_from_the_first_step_as_ray_tune_does(sqlite_uri) -> None:
    def objective(trial: rs.Trial) -> float:
        if trial.number == 0:  # a first trial that ends before completing (no full-length run)
            trial.report(0.9, 1)
            raise rs.TrialPruned("stopped by the objective")
        for step in range(1, 17):
            trial.report(0.1, step)
        return 0.1

    result = rs.sweep(objective, {"x": rs.uniform(0.0, 1.0)}, metric="acc", sampler="random",
                      scheduler="asha", trials=2, tracking_uri=sqlite_uri)  # fmt: skip
    second = result.trials[1]
    # grace 1 step: judged at step 1 against the first trial, before any trial completed
    assert second.state.value == "PRUNED" and second.last_step == 1
    assert "SuccessiveHalvingPruner" in second.reason
