"""Bad input gets a clear InvalidArgument naming the column, and nothing is stored."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from runyard.errors import InvalidArgument
from runyard.evaluation import bucket, compare, evaluate


def _table(**over: object) -> pa.Table:
    cols = {
        "example_id": np.arange(6),
        "y": [0, 1, 1, 0, 1, 0],
        "y_hat": [0, 1, 0, 0, 1, 1],
        "p": [0.1, 0.8, 0.4, 0.2, 0.9, 0.6],
        "w": ["a", "b", "a", "b", "a", "b"],
    }
    cols.update(over)  # type: ignore[arg-type]
    return pa.table(cols)


@pytest.mark.parametrize(
    ("kwargs", "column"),
    [
        ({"label": "truth"}, "truth"),
        ({"prediction": "pred"}, "pred"),
        ({"score": "prob"}, "prob"),
        ({"slices": ["city"]}, "city"),
        ({"slices": [bucket("speed", [1, 2])]}, "speed"),
        ({"id": "uid"}, "uid"),
    ],
)
def test_missing_columns_are_named(kwargs: dict, column: str) -> None:
    args = {"label": "y", "prediction": "y_hat", "bootstrap": 0, **kwargs}
    with pytest.raises(InvalidArgument, match=f"'{column}'"):
        evaluate(_table(), **args)


def test_label_prediction_type_mismatch_names_both() -> None:
    with pytest.raises(InvalidArgument, match="'y'.*'y_hat'.*incompatible"):
        evaluate(_table(y_hat=["0", "1", "0", "0", "1", "1"]), label="y", prediction="y_hat")


def test_nan_predictions_and_scores_are_refused_with_the_row() -> None:
    with pytest.raises(InvalidArgument, match=r"'y_hat' \(prediction\) has 1 NaN.*row 2"):
        evaluate(_table(y_hat=[0.0, 1.0, np.nan, 0.0, 1.0, 1.0]), label="y", prediction="y_hat")
    with pytest.raises(InvalidArgument, match=r"'p' \(score\) has 1 null"):
        evaluate(
            _table(p=[0.1, None, 0.4, 0.2, 0.9, 0.6]), label="y", prediction="y_hat", score="p"
        )


def test_probability_metrics_need_probabilities() -> None:
    with pytest.raises(InvalidArgument, match="'log_loss'.*'p'.*outside"):
        evaluate(
            _table(p=[-2.0, 3.0, 0.4, 0.2, 0.9, 0.6]),
            label="y",
            prediction="y_hat",
            score="p",
            metrics=["log_loss"],
        )
    res = evaluate(
        _table(p=[-2.0, 3.0, 0.4, 0.2, 0.9, 0.6]),
        label="y",
        prediction="y_hat",
        score="p",
        metrics=["roc_auc"],
        bootstrap=0,
    )
    assert 0 <= res.value("roc_auc") <= 1


def test_empty_input_and_empty_slice_specs() -> None:
    with pytest.raises(InvalidArgument, match="no rows"):
        evaluate(_table().slice(0, 0), label="y", prediction="y_hat")
    with pytest.raises(InvalidArgument, match="'distance' has no edges"):
        bucket("distance", [])
    with pytest.raises(InvalidArgument, match="strictly increasing"):
        bucket("distance", [5, 1])
    with pytest.raises(InvalidArgument, match="'w' is named more than once"):
        evaluate(_table(), label="y", prediction="y_hat", slices=["w", "w"])
    with pytest.raises(InvalidArgument, match="a slice is"):
        evaluate(_table(), label="y", prediction="y_hat", slices=[""])


def test_empty_slice_values_are_left_out() -> None:
    t = _table(w=["a", "a", "a", None, "a", "a"])
    res = evaluate(
        t,
        label="y",
        prediction="y_hat",
        slices=["w"],
        metrics=["accuracy"],
        bootstrap=10,
        min_size=3,
    )
    df = res.to_pandas()
    assert list(df.slice) == ["overall", "w=a", "w=null"]
    assert list(df.small) == [False, False, True]


def test_unknown_and_inapplicable_metrics() -> None:
    with pytest.raises(InvalidArgument, match="unknown metric 'acc'"):
        evaluate(_table(), label="y", prediction="y_hat", metrics=["acc"])
    with pytest.raises(InvalidArgument, match="'roc_auc' needs a score"):
        evaluate(_table(), label="y", prediction="y_hat", metrics=["roc_auc"])
    with pytest.raises(InvalidArgument, match="regression.*classification"):
        evaluate(_table(), label="y", prediction="y_hat", metrics=["mae", "accuracy"])


def test_compare_refuses_mismatched_example_ids() -> None:
    a = evaluate(_table(), label="y", prediction="y_hat", bootstrap=20, metrics=["accuracy"])
    b = evaluate(
        _table(example_id=np.arange(6) + 100),
        label="y",
        prediction="y_hat",
        bootstrap=20,
        metrics=["accuracy"],
    )
    with pytest.raises(InvalidArgument, match="different examples.*'example_id'"):
        compare(a, b)
    c = evaluate(
        _table(), label="y", prediction="y_hat", bootstrap=20, seed=1, metrics=["accuracy"]
    )
    with pytest.raises(InvalidArgument, match="same bootstrap and seed"):
        compare(a, c)


def test_missing_parquet_path_and_unsupported_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgument, match="does not exist"):
        evaluate(str(tmp_path / "nope.parquet"), label="y", prediction="y_hat")
    with pytest.raises(InvalidArgument, match="Parquet path"):
        evaluate([1, 2, 3], label="y", prediction="y_hat")
