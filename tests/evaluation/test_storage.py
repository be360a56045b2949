"""Results stored on a real tracking run (SQLite + local artifacts) and read back."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from runyard.errors import InvalidArgument
from runyard.evaluation import EvalResult, compare, evaluate, gate
from runyard.tracking.client import Client, start_run


def test_result_round_trips_through_a_run(make_binary) -> None:  # type: ignore[no-untyped-def]
    table = make_binary(3000, seed=8)
    kw = dict(
        label="y",
        prediction="y_hat",
        score="p",
        slices=["weather", "time_of_day"],
        crosses=2,
        metrics=["accuracy", "roc_auc", "ece"],
        bootstrap=100,
    )
    with start_run(experiment="eval-test", synchronous=True) as run:
        res = evaluate(table, run=run, **kw)
        run_id = run.run_id
    client = Client()
    info = client.get_run(run_id)
    assert info.metrics["eval/overall/accuracy"].latest == pytest.approx(res.value("accuracy"))
    assert "eval/weather=rain/time_of_day=night/roc_auc" in info.metrics
    paths = [r.path for r in client.list_artifacts(run_id, "eval")]
    assert "eval/results.parquet" in paths and "eval/failures.parquet" in paths

    loaded = EvalResult.from_run(run_id, client)
    assert loaded.to_arrow().equals(res.to_arrow())
    np.testing.assert_array_equal(loaded.replicates, res.replicates)
    assert loaded.config == res.config
    assert loaded.failures(3).equals(res.failures(3))
    # a stored result is as good as a fresh one for comparisons and gates
    cmp = compare(loaded, evaluate(table, **kw))
    assert (cmp.to_pandas().delta.abs() < 1e-12).all()
    assert gate(cmp, "not significant_regression(accuracy, slices=true)").passed


def test_run_without_the_needed_methods_is_refused_before_anything_is_stored() -> None:
    t = pa.table({"y": [0, 1], "y_hat": [0, 1]})
    with pytest.raises(InvalidArgument, match="log_metrics and log_artifact"):
        evaluate(t, label="y", prediction="y_hat", bootstrap=0, run=object())
