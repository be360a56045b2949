"""Chart reads of long series: the SQL store answers from chunk sketches, never losing spikes.

What a chart user relies on: at most ``max_points`` points, the first and last points, every
bucket's extremes (so a spike or a dip always shows), real points only, and the same answer
whether a chunk's sketch was stored when it was written or is computed when read.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

import numpy as np
import pytest
import sqlalchemy as sa

from runyard.entities import Metric, MetricSeries
from runyard.errors import InvalidArgument, NotFound
from runyard.tracking.store import TrackingStore, get_store
from runyard.tracking.store.downsample import downsample
from runyard.tracking.store.sql import SqlTrackingStore
from runyard.tracking.store.sql.engine import get_engine
from runyard.tracking.store.sql.sketch import downsample_blocks, sketch_records


def _log(store: SqlTrackingStore, run_id: str, values: np.ndarray, chunk: int) -> None:
    for start in range(0, len(values), chunk):
        part = values[start : start + chunk]
        store.log_batch(
            run_id, [Metric("loss", float(v), start + i, 7) for i, v in enumerate(part)]
        )


@pytest.fixture
def sql_store(store_uri: str) -> Iterator[SqlTrackingStore]:
    store = get_store(store_uri)
    assert isinstance(store, SqlTrackingStore)
    yield store
    store.close()


def test_long_series_keep_extremes_and_ends_and_match_without_stored_sketches(
    sql_store: SqlTrackingStore, store_uri: str
) -> None:
    rng = np.random.default_rng(1)
    runs = [sql_store.create_run("0").run_id for _ in range(3)]
    series = []
    for i, run_id in enumerate(runs):
        values = rng.normal(size=40_000 + 777 * i)
        values[12_345] = 1e9  # a spike
        values[30_001] = -1e9  # a dip
        values[100:300] = np.nan
        _log(sql_store, run_id, values, chunk=9_000 + 1000 * i)
        series.append(values)
    got = sql_store.get_downsampled_histories(runs, "loss", 500)
    for s, values in zip(got, series, strict=True):
        steps = np.frombuffer(s.steps, np.int64)
        assert s.key == "loss" and 2 < len(s) <= 500
        assert steps[0] == 0 and steps[-1] == len(values) - 1 and np.all(np.diff(steps) > 0)
        assert np.array_equal(np.frombuffer(s.values), values[steps], equal_nan=True)
        assert 1e9 in s.values and -1e9 in s.values
        assert set(s.timestamps) == {7}
    engine = get_engine(store_uri)
    with engine.begin() as conn:  # as if the chunks predated sketches
        conn.execute(sa.text("DELETE FROM metric_sketches"))
    again = sql_store.get_downsampled_histories(runs, "loss", 500)
    assert [list(s.steps) for s in again] == [list(s.steps) for s in got]


def test_short_and_medium_series_match_the_exact_rule(sql_store: SqlTrackingStore) -> None:
    short, medium = sql_store.create_run("0").run_id, sql_store.create_run("0").run_id
    values = np.sin(np.arange(5_000) / 50.0)
    _log(sql_store, short, values[:300], chunk=100)
    _log(sql_store, medium, values, chunk=1_000)
    got = sql_store.get_downsampled_histories([short, medium], "loss", 300)
    assert list(got[0].values) == list(values[:300])  # fits: comes back whole
    full = sql_store.get_metric_history(medium, "loss")
    assert list(got[1].steps) == list(downsample(full, 300).steps)  # bucket < 2 blocks: exact


def test_missing_runs_and_bad_max_points_are_refused(sql_store: SqlTrackingStore) -> None:
    run_id = sql_store.create_run("0").run_id
    with pytest.raises(NotFound):
        sql_store.get_downsampled_histories([run_id, "0" * 32], "loss", 100)
    with pytest.raises(InvalidArgument):
        sql_store.get_downsampled_histories([run_id], "loss", 1)
    assert list(sql_store.get_downsampled_histories([run_id], "never", 100)[0].steps) == []


def test_one_point_blocks_are_the_exact_rule() -> None:
    rng = np.random.default_rng(2)
    for n, max_points in ((1_000, 37), (4_321, 300), (999, 2), (50, 4)):
        values = rng.normal(size=n)
        values[rng.random(n) < 0.2] = np.nan
        steps, stamps = np.arange(n) * 2, np.arange(n)
        exact = downsample(
            MetricSeries("r", "k", array("q", steps), array("d", values), array("q", stamps)),
            max_points,
        )
        parts = np.array_split(np.arange(n), 3)
        recs = [(len(p), sketch_records(steps[p], values[p], stamps[p], block=1)) for p in parts]
        got_steps, _, _ = downsample_blocks(recs, max_points, block=1)
        assert list(got_steps) == list(exact.steps) and len(got_steps) <= max_points


def test_the_store_contracts_default_reads_whole_series_and_downsamples_each(
    sql_store: SqlTrackingStore,
) -> None:
    """A store without sketches (the base-class default, e.g. the REST store) gets the rule."""
    run_id = sql_store.create_run("0").run_id
    values = np.sin(np.arange(5_000) / 50.0)
    values[4_321] = 50.0
    _log(sql_store, run_id, values, chunk=1_000)
    (got,) = TrackingStore.get_downsampled_histories(sql_store, [run_id], "loss", 200)
    (whole,) = sql_store.get_metric_histories([run_id], "loss")
    assert list(got.steps) == list(downsample(whole, 200).steps)
    assert 2 < len(got) <= 200 and 50.0 in got.values
    with pytest.raises(InvalidArgument, match="max_points"):
        TrackingStore.get_downsampled_histories(sql_store, [run_id], "loss", 1)
