"""Sharded and unsharded evaluations agree, bootstrap intervals included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from runyard.evaluation import bucket, evaluate
from runyard.evaluation.bootstrap import id_hashes, poisson_weights
from runyard.executors import get_executor

METRICS = ["accuracy", "f1", "roc_auc", "pr_auc", "log_loss", "ece"]
KW = dict(
    label="y",
    prediction="y_hat",
    score="p",
    metrics=METRICS,
    bootstrap=200,
    slices=["weather", "time_of_day", bucket("distance", [10, 50])],
    crosses=2,
    seed=7,
)


def _same(a, b) -> None:  # type: ignore[no-untyped-def]
    ta, tb = a.to_arrow(), b.to_arrow()
    assert ta.column("slice").to_pylist() == tb.column("slice").to_pylist()
    assert ta.column("n").to_pylist() == tb.column("n").to_pylist()
    for col in ("value", "ci_low", "ci_high"):
        # sums merge in a different order across shards: equal up to float64 re-association
        np.testing.assert_allclose(
            ta.column(col).to_numpy(), tb.column(col).to_numpy(), rtol=1e-12, atol=1e-14
        )
    np.testing.assert_allclose(a.replicates, b.replicates, rtol=1e-12, atol=1e-14)
    assert a.config.fingerprint == b.config.fingerprint


def test_weights_depend_only_on_seed_id_and_replicate() -> None:
    ids = pa.array([f"ex-{i}" for i in range(1000)])
    whole = poisson_weights(id_hashes(ids, 0, 1000), seed=3, replicates=50)
    part = poisson_weights(id_hashes(ids.slice(400, 300), 400, 300), seed=3, replicates=50)
    np.testing.assert_array_equal(whole[400:700], part)
    assert abs(whole.mean() - 1.0) < 0.02 and abs(whole.var() - 1.0) < 0.05
    other_seed = poisson_weights(id_hashes(ids, 0, 1000), seed=4, replicates=50)
    assert not np.array_equal(whole, other_seed)


def test_inline_shards_equal_unsharded(make_binary) -> None:  # type: ignore[no-untyped-def]
    table = make_binary(5000, seed=1)
    _same(evaluate(table, **KW), evaluate(table, shards=3, **KW))


def test_parquet_on_process_executor_equals_in_memory(tmp_path: Path, make_binary) -> None:  # type: ignore[no-untyped-def]
    table = make_binary(6000, seed=2)
    folder = tmp_path / "preds"
    folder.mkdir()
    pq.write_table(table.slice(0, 3500), folder / "part-0.parquet", row_group_size=700)
    pq.write_table(table.slice(3500), folder / "part-1.parquet", row_group_size=900)
    in_memory = evaluate(table, **KW)
    with get_executor("process:2") as ex:
        sharded = evaluate(str(folder), executor=ex, shards=4, **KW)
    _same(in_memory, sharded)
    assert sharded.failures(5).num_rows == 5


def test_row_position_ids_are_global_across_shards(tmp_path: Path, make_binary) -> None:  # type: ignore[no-untyped-def]
    table = make_binary(3000, seed=4).drop_columns(["example_id"])
    path = tmp_path / "p.parquet"
    pq.write_table(table, path, row_group_size=500)
    a = evaluate(table, **KW)
    b = evaluate(str(path), shards=3, executor="inline", **KW)
    _same(a, b)
    assert a.config.id_column is None


@pytest.mark.parametrize("frame", ["pandas", "polars"])
def test_frames_are_accepted(frame: str, make_binary) -> None:  # type: ignore[no-untyped-def]
    table = make_binary(1500, seed=5)
    data = table.to_pandas() if frame == "pandas" else __import__("polars").from_arrow(table)
    _same(evaluate(table, **KW), evaluate(data, **KW))
