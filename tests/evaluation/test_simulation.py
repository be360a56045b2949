"""By simulation: intervals cover the truth 95% of the time; equal models rarely differ.

Each trial is its own slice (``trial=k``), so one evaluation runs hundreds of independent
trials at once; seeds are fixed, so the outcome is deterministic.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from runyard.evaluation import compare, evaluate

TRIALS = 1000
PER_TRIAL = 400


def _trials(seed: int, accuracy: float) -> pa.Table:
    rng = np.random.default_rng(seed)
    n = TRIALS * PER_TRIAL
    y = rng.integers(0, 2, n)
    correct = rng.random(n) < accuracy
    return pa.table(
        {
            "example_id": np.arange(n),
            "y": y,
            "y_hat": np.where(correct, y, 1 - y),
            "trial": np.repeat(np.arange(TRIALS), PER_TRIAL),
        }
    )


def test_95_percent_intervals_cover_the_true_accuracy() -> None:
    res = evaluate(
        _trials(11, 0.8),
        label="y",
        prediction="y_hat",
        slices=["trial"],
        metrics=["accuracy"],
        bootstrap=400,
        seed=1,
    )
    df = res.to_pandas()
    df = df[df.slice != "overall"]
    assert len(df) == TRIALS
    covered = ((df.ci_low <= 0.8) & (0.8 <= df.ci_high)).mean()
    assert 0.93 <= covered <= 0.97, covered


def test_identical_quality_models_are_rarely_significantly_different() -> None:
    a = _trials(21, 0.8)
    b = _trials(22, 0.8)  # same quality, independent errors
    b = b.set_column(0, "example_id", a["example_id"]).set_column(1, "y", a["y"])
    b = b.set_column(
        2,
        "y_hat",
        pa.array(
            np.where(
                np.random.default_rng(5).random(a.num_rows) < 0.8,
                a["y"].to_numpy(),
                1 - a["y"].to_numpy(),
            )
        ),
    )
    kw = dict(
        label="y", prediction="y_hat", slices=["trial"], metrics=["accuracy"], bootstrap=400, seed=3
    )
    cmp = compare(evaluate(a, **kw), evaluate(b, **kw))
    df = cmp.to_pandas()
    df = df[df.slice != "overall"]
    rate = (df.p_value < 0.05).mean()
    assert rate <= 0.07, rate
    # with Benjamini-Hochberg across the 1000 slices, false discoveries are rarer still
    assert df.significant.mean() <= 0.01
