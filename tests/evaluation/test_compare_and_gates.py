"""Paired comparison, the gate language, and gates on results and comparisons."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pytest

from runyard.errors import InvalidArgument, InvalidFilter
from runyard.evaluation import GateVerdict, compare, evaluate, gate, parse_rule

KW = dict(
    label="y",
    prediction="y_hat",
    slices=["weather", "time_of_day"],
    crosses=2,
    metrics=["accuracy", "f1"],
    bootstrap=300,
    seed=0,
    min_size=200,
)


def _models(n: int = 8000):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(4)
    weather = rng.choice(["rain", "sun", "fog"], n)
    tod = rng.choice(["day", "night"], n)
    y = rng.integers(0, 2, n)
    u = rng.random(n)
    a = np.where(u < 0.90, y, 1 - y)
    # B: better everywhere, except much worse at rain & night
    acc_b = np.where((weather == "rain") & (tod == "night"), 0.75, 0.93)
    b = np.where(u < acc_b, y, 1 - y)
    base = {"example_id": np.arange(n), "y": y, "weather": weather, "time_of_day": tod}
    ta = pa.table({**base, "y_hat": a})
    tb = pa.table({**base, "y_hat": b})
    return evaluate(ta, **KW), evaluate(tb, **KW)


@pytest.fixture(scope="module")
def results():  # type: ignore[no-untyped-def]
    return _models()


def test_compare_finds_the_regression_first(results) -> None:  # type: ignore[no-untyped-def]
    a, b = results
    cmp = compare(a, b)
    df = cmp.to_pandas()
    assert list(df.columns[:10]) == [
        "slice",
        "metric",
        "a",
        "b",
        "delta",
        "ci_low",
        "ci_high",
        "p_value",
        "q_value",
        "significant",
    ]
    regressions = df[df.direction == "regression"]
    assert len(regressions) and df.index[: len(regressions)].tolist() == regressions.index.tolist()
    planted = regressions[regressions.slice == "weather=rain & time_of_day=night"]
    assert set(planted.metric) == {"accuracy", "f1"}
    row = planted[planted.metric == "accuracy"].iloc[0]
    assert row.delta < -0.1 and row.ci_high < 0 and row.q_value <= 0.05
    improved = df[df.direction == "improvement"]
    assert "weather=sun & time_of_day=day" in set(improved.slice)
    overall = df[(df.slice == "overall") & (df.metric == "accuracy")].iloc[0]
    assert overall.delta == pytest.approx(b.value("accuracy") - a.value("accuracy"))
    assert (df.q_value.dropna() >= df.p_value[df.q_value.notna()]).all()


def test_gate_on_comparison_passes_and_fails_with_reasons(results) -> None:  # type: ignore[no-untyped-def]
    a, b = results
    cmp = compare(a, b)
    verdict = gate(
        cmp,
        "accuracy >= 0.9",
        "delta(accuracy) >= 0",
        "no_slice_regression(accuracy, max_drop=0.02, min_size=200)",
        "not significant_regression(accuracy)",
    )
    assert isinstance(verdict, GateVerdict)
    assert not verdict.passed and not verdict
    passed = [o.passed for o in verdict.outcomes]
    assert passed == [True, False, False, True]
    assert "weather=rain & time_of_day=night dropped" in verdict.outcomes[2].reason
    assert verdict.reasons[0].startswith("PASS accuracy >= 0.9: accuracy = 0.9")
    assert gate(cmp, "significant_regression(accuracy, slices=true)").passed
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.passed = True  # type: ignore[misc]


def test_gate_on_result_with_slices(results) -> None:  # type: ignore[no-untyped-def]
    _, b = results
    v = gate(
        b,
        "slice(weather=rain, time_of_day=night).accuracy >= 0.8",
        "slice(weather=sun).accuracy >= 0.9",
        "ci_low(accuracy) > 0.88",
        "slice(weather=hail).accuracy >= 0.5",
    )
    assert [o.passed for o in v.outcomes] == [False, True, True, False]
    assert "weather=rain & time_of_day=night" in v.outcomes[0].reason
    assert "no slice 'weather=hail'" in v.outcomes[3].reason
    assert v.to_dict()["passed"] is False
    with pytest.raises(InvalidArgument, match="needs a Comparison"):
        gate(b, "no_slice_regression(accuracy)")


@pytest.mark.parametrize(
    ("rule", "position", "message"),
    [
        ("accuracy >= ", 12, "expected a number, found end of rule"),
        ("accuracy => 0.9", 9, "expected a comparison"),
        ("slice(weather=rain.accuracy >= 1", 18, "expected"),
        ("no_slice_regression(accuracy, max_dorp=0.1)", 30, "no option 'max_dorp'"),
        ("accuracy >= 0.9 extra", 16, "expected end of rule"),
        ("accuracy >= 0.9 $", 16, "unexpected character '\\$'"),
    ],
)
def test_parse_errors_point_at_the_bad_token(rule: str, position: int, message: str) -> None:
    with pytest.raises(InvalidFilter, match=message) as e:
        parse_rule(rule)
    assert e.value.position == position
    assert "^" in str(e.value)


def test_unknown_metric_in_rule_points_at_it(results) -> None:  # type: ignore[no-untyped-def]
    _, b = results
    with pytest.raises(InvalidFilter, match="metric 'recall'") as e:
        gate(b, "accuracy > 0", "slice(weather=rain).recall >= 0.8")
    assert e.value.position == 20
