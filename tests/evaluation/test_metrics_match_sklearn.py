"""Every metric equals scikit-learn's on the same data, overall and on each slice."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from runyard.evaluation import MeanMetric, bucket, evaluate

TOL = 1e-9


def _ece(y: np.ndarray, p: np.ndarray, bins: int = 15) -> float:
    prob_true, prob_pred = calibration_curve(y, p, n_bins=bins, strategy="uniform")
    ids = np.searchsorted(np.linspace(0, 1, bins + 1)[1:-1], p)
    counts = np.bincount(ids, minlength=bins)
    counts = counts[counts > 0]
    return float(np.sum(counts * np.abs(prob_true - prob_pred)) / len(p))


def _binary_reference(y: np.ndarray, y_hat: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": skm.accuracy_score(y, y_hat),
        "precision": skm.precision_score(y, y_hat, zero_division=0),
        "recall": skm.recall_score(y, y_hat, zero_division=0),
        "f1": skm.f1_score(y, y_hat, zero_division=0),
        "f1_macro": skm.f1_score(y, y_hat, average="macro", zero_division=0),
        "roc_auc": skm.roc_auc_score(y, p),
        "pr_auc": skm.average_precision_score(y, p),
        "log_loss": skm.log_loss(y, p),
        "brier": skm.brier_score_loss(y, p),
        "ece": _ece(y, p),
    }


def test_binary_metrics_equal_sklearn_overall_and_per_slice(binary: pa.Table) -> None:
    names = [
        "accuracy",
        "precision",
        "recall",
        "f1",
        "f1_macro",
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
        "ece",
    ]
    res = evaluate(
        binary,
        label="y",
        prediction="y_hat",
        score="p",
        metrics=names,
        slices=["weather", bucket("distance", [10, 50])],
        crosses=2,
        bootstrap=20,
    )
    df = res.to_pandas()
    cols = binary.to_pandas()
    cols["distance_bin"] = np.searchsorted([10, 50], cols["distance"], side="right")
    labels = {0: "<10", 1: "[10, 50)", 2: ">=50"}
    checked = 0
    for (weather, dbin), part in cols.groupby(["weather", "distance_bin"]):
        ref = _binary_reference(part.y.to_numpy(), part.y_hat.to_numpy(), part.p.to_numpy())
        got = df[df.slice == f"weather={weather} & distance={labels[dbin]}"].set_index("metric")
        for name in names:
            assert got.value[name] == pytest.approx(ref[name], abs=TOL), (weather, dbin, name)
            checked += 1
    overall = df[df.slice == "overall"].set_index("metric")
    ref = _binary_reference(cols.y.to_numpy(), cols.y_hat.to_numpy(), cols.p.to_numpy())
    for name in names:
        assert overall.value[name] == pytest.approx(ref[name], abs=TOL), name
    rain = df[df.slice == "weather=rain"].set_index("metric")
    part = cols[cols.weather == "rain"]
    ref = _binary_reference(part.y.to_numpy(), part.y_hat.to_numpy(), part.p.to_numpy())
    for name in names:
        assert rain.value[name] == pytest.approx(ref[name], abs=TOL), name
    assert checked == 9 * len(names)
    assert (df.n[df.slice == "overall"] == binary.num_rows).all()


def test_multiclass_label_metrics_equal_sklearn() -> None:
    rng = np.random.default_rng(3)
    n = 3000
    y = rng.choice(["cat", "dog", "eel", "fox"], n)
    y_hat = np.where(rng.random(n) < 0.7, y, rng.choice(["cat", "dog", "eel", "fox"], n))
    group = rng.choice(["a", "b"], n)
    # slice b never sees "fox" at all: macro averages must skip the absent class there
    keep = ~((group == "b") & ((y == "fox") | (y_hat == "fox")))
    y, y_hat, group = y[keep], y_hat[keep], group[keep]
    table = pa.table({"y": y, "y_hat": y_hat, "g": group})
    names = [
        "accuracy",
        "precision",
        "recall",
        "f1",
        "f1_macro",
        "recall_macro",
        "f1[dog]",
        "precision[eel]",
    ]
    res = evaluate(table, label="y", prediction="y_hat", metrics=names, slices=["g"], bootstrap=0)
    for label, mask in (
        ("overall", np.ones(len(y), bool)),
        ("g=a", group == "a"),
        ("g=b", group == "b"),
    ):
        yt, yp = y[mask], y_hat[mask]
        ref = {
            "accuracy": skm.accuracy_score(yt, yp),
            "precision": skm.precision_score(yt, yp, average="macro", zero_division=0),
            "recall": skm.recall_score(yt, yp, average="macro", zero_division=0),
            "f1": skm.f1_score(yt, yp, average="macro", zero_division=0),
            "f1_macro": skm.f1_score(yt, yp, average="macro", zero_division=0),
            "recall_macro": skm.recall_score(yt, yp, average="macro", zero_division=0),
            "f1[dog]": skm.f1_score(yt, yp, labels=["dog"], average=None, zero_division=0)[0],
            "precision[eel]": skm.precision_score(
                yt, yp, labels=["eel"], average=None, zero_division=0
            )[0],
        }
        for name in names:
            assert res.value(name, label) == pytest.approx(ref[name], abs=TOL), (label, name)


def test_regression_metrics_equal_sklearn() -> None:
    rng = np.random.default_rng(5)
    n = 5000
    y = 1e4 + rng.normal(size=n) * 3  # a large mean: sums must not cancel catastrophically
    y_hat = y + rng.normal(size=n)
    g = rng.choice(["x", "y"], n)
    res = evaluate(
        pa.table({"y": y, "y_hat": y_hat, "g": g}),
        label="y",
        prediction="y_hat",
        slices=["g"],
        bootstrap=10,
    )
    assert res.metrics == ("mae", "rmse", "r2")
    for label, mask in (("overall", np.ones(n, bool)), ("g=x", g == "x")):
        assert res.value("mae", label) == pytest.approx(
            skm.mean_absolute_error(y[mask], y_hat[mask]), abs=TOL
        )
        assert res.value("rmse", label) == pytest.approx(
            skm.root_mean_squared_error(y[mask], y_hat[mask]), abs=TOL
        )
        assert res.value("r2", label) == pytest.approx(skm.r2_score(y[mask], y_hat[mask]), abs=TOL)


def test_string_labels_with_pos_label_and_user_metric() -> None:
    rng = np.random.default_rng(9)
    n = 2000
    p = rng.random(n)
    y = np.where(rng.random(n) < p, "spam", "ham")
    y_hat = np.where(p >= 0.5, "spam", "ham")
    table = pa.table({"y": y, "y_hat": y_hat, "p": p, "cost": rng.random(n)})
    res = evaluate(
        table,
        label="y",
        prediction="y_hat",
        score="p",
        pos_label="spam",
        metrics=["f1", "roc_auc", MeanMetric("cost", _cost, needs=("cost",))],
        bootstrap=0,
    )
    assert res.value("f1") == pytest.approx(skm.f1_score(y, y_hat, pos_label="spam"), abs=TOL)
    assert res.value("roc_auc") == pytest.approx(skm.roc_auc_score(y == "spam", p), abs=TOL)
    assert res.value("cost") == pytest.approx(table["cost"].to_numpy().mean(), abs=TOL)


def _cost(cols: dict[str, np.ndarray]) -> np.ndarray:
    return cols["cost"]


def test_prediction_derived_from_score_and_default_metrics() -> None:
    rng = np.random.default_rng(2)
    p = rng.random(1000)
    y = (rng.random(1000) < p).astype(int)
    res = evaluate(pa.table({"y": y, "p": p}), label="y", prediction=None, score="p", bootstrap=0)
    assert set(res.metrics) >= {"accuracy", "f1", "roc_auc", "log_loss", "ece"}
    assert res.value("accuracy") == pytest.approx(skm.accuracy_score(y, p >= 0.5), abs=TOL)
