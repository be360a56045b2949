"""Failure mining finds a planted failure and lists the most confident errors."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from runyard.evaluation import evaluate


def test_planted_failure_cross_is_ranked_first() -> None:
    rng = np.random.default_rng(0)
    n = 20000
    weather = rng.choice(["rain", "sun", "fog", "snow"], n)
    tod = rng.choice(["day", "night", "dusk"], n)
    road = rng.choice(["highway", "city"], n)
    y = rng.integers(0, 2, n)
    accuracy = np.where((weather == "rain") & (tod == "night"), 0.55, 0.92)
    y_hat = np.where(rng.random(n) < accuracy, y, 1 - y)
    t = pa.table({"y": y, "y_hat": y_hat, "weather": weather, "time_of_day": tod, "road": road})
    res = evaluate(
        t,
        label="y",
        prediction="y_hat",
        metrics=["accuracy", "f1"],
        slices=["weather", "time_of_day", "road"],
        crosses=2,
        bootstrap=50,
    )
    worst = res.worst_slices("accuracy", k=5).to_pylist()
    assert worst[0]["slice"] == "weather=rain & time_of_day=night"
    assert worst[0]["gap"] > 0.3
    assert [r["score"] for r in worst] == sorted((r["score"] for r in worst), reverse=True)
    assert res.worst_slices().column("metric").to_pylist()[0] == "accuracy"


def test_failures_are_the_most_confident_errors_with_ids() -> None:
    rng = np.random.default_rng(1)
    n = 5000
    p = rng.random(n)
    y = (rng.random(n) < p).astype(int)
    t = pa.table(
        {
            "example_id": [f"img-{i:05d}" for i in range(n)],
            "y": y,
            "p": p,
            "weather": rng.choice(["rain", "sun"], n),
        }
    )
    res = evaluate(
        t, label="y", prediction=None, score="p", slices=["weather"], bootstrap=0, keep_failures=50
    )
    top = res.failures(k=10).to_pandas()
    y_hat = (p >= 0.5).astype(int)
    confidence = np.where(y_hat == 1, p, 1 - p)
    wrong = np.flatnonzero(y_hat != y)
    expected = wrong[np.argsort(-confidence[wrong], kind="stable")][:10]
    assert list(top.example_id) == [f"img-{i:05d}" for i in expected]
    assert (top.confidence.diff().dropna() <= 0).all()
    rain = res.failures(k=5, slice="weather=rain").to_pandas()
    assert len(rain) == 5 and (rain.weather == "rain").all()
