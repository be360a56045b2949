"""The conformance suite every :class:`~runyard.tracking.store.base.TrackingStore` passes.

Subclass :class:`TrackingStoreSuite` with ``__test__ = True`` and provide a ``store`` fixture.
The suite uses only the public store API and never assumes the store is empty (each test
makes its own uniquely named experiments), so a backend may share one database between
tests. Weaker backends skip tests through ``supports_*`` properties.

Example:
    .. code-block:: python

        import pytest
        from runyard.tracking.store import get_store
        from runyard.testing.tracking_store import TrackingStoreSuite

        class TestSqliteStore(TrackingStoreSuite):
            __test__ = True

            @pytest.fixture
            def store(self, tmp_path):
                s = get_store(f"sqlite:///{tmp_path}/t.db")
                yield s
                s.close()
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from runyard.entities import (
    ArtifactRef,
    LifecycleStage,
    LineageEdge,
    Metric,
    NodeKind,
    Run,
    RunStatus,
)
from runyard.errors import (
    AlreadyExists,
    InvalidArgument,
    InvalidFilter,
    NotFound,
    ParamConflict,
)
from runyard.tracking.store.base import (
    MAX_KEY_LENGTH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    NewRun,
    RunEnd,
    TrackingStore,
)

__all__ = ["TrackingStoreSuite"]

NAN, INF = math.nan, math.inf


def _unique(prefix: str = "exp") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


class TrackingStoreSuite:
    """Tests of the whole :class:`TrackingStore` contract; needs a ``store`` fixture."""

    __test__ = False

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def make_runs(
        store: TrackingStore, specs: Sequence[Mapping[str, Any]], experiment_id: str | None = None
    ) -> tuple[str, list[Run]]:
        """Create one run per spec ``{name, params, tags, metrics: {key: value}}``.

        Start times increase with the spec index, so newest-first is reverse spec order.
        """
        exp = experiment_id or store.create_experiment(_unique())
        out = []
        for i, spec in enumerate(specs):
            run = store.create_run(exp, name=spec.get("name", f"r{i}"), start_time=1000 + i)
            metrics = [Metric(k, v, 0, 0) for k, v in spec.get("metrics", {}).items()]
            store.log_batch(run.run_id, metrics, spec.get("params"), spec.get("tags"))
            out.append(store.get_run(run.run_id))
        return exp, out

    @staticmethod
    def names(store: TrackingStore, exp: str, filter_string: str = "", **kw: Any) -> list[str]:
        """Names of the runs a search returns, in order."""
        return [r.name for r in store.search_runs([exp], filter_string, **kw)]

    @pytest.fixture
    def grid(self, store: TrackingStore) -> str:
        """Four runs with varied params, tags and metrics; returns the experiment id."""
        exp, _ = self.make_runs(
            store,
            [
                {"name": "a", "params": {"lr": "0.1", "opt": "Adam"}, "tags": {"team": "x"},
                 "metrics": {"acc": 0.5, "val/acc": 0.4}},
                {"name": "b", "params": {"lr": "0.01", "opt": "sgd"}, "tags": {"team": "y"},
                 "metrics": {"acc": 0.9, "loss": 0.1}},
                {"name": "c", "params": {"lr": "0.1", "opt": "adam"},
                 "metrics": {"acc": 0.7, "loss": 0.3}},
                {"name": "d", "params": {"lr": "0.001"}, "tags": {"team": "x"}},
            ],
        )  # fmt: skip
        return exp

    # -- experiments ----------------------------------------------------------------------

    def test_default_experiment_exists(self, store: TrackingStore) -> None:
        """Default experiment exists."""
        assert store.get_experiment("0").name == "Default"

    def test_create_and_get_experiment(self, store: TrackingStore) -> None:
        """Create and get experiment."""
        name = _unique()
        exp_id = store.create_experiment(name, tags={"owner": "ana"})
        exp = store.get_experiment(exp_id)
        assert (exp.name, exp.lifecycle_stage, dict(exp.tags)) == (
            name, LifecycleStage.ACTIVE, {"owner": "ana"},
        )  # fmt: skip
        assert exp.artifact_location.endswith(f"/{exp_id}")
        assert store.get_experiment_by_name(name) == exp
        assert store.get_experiment_by_name(_unique()) is None
        custom = store.create_experiment(_unique(), artifact_location="s3://bucket/x")
        assert store.get_experiment(custom).artifact_location == "s3://bucket/x"

    def test_experiment_errors(self, store: TrackingStore) -> None:
        """Experiment errors."""
        name = _unique()
        exp_id = store.create_experiment(name)
        with pytest.raises(AlreadyExists, match=name):
            store.create_experiment(name)
        store.delete_experiment(exp_id)
        with pytest.raises(AlreadyExists):
            store.create_experiment(name)
        for bad in ("", "x" * (MAX_KEY_LENGTH + 1)):
            with pytest.raises(InvalidArgument):
                store.create_experiment(bad)
        for missing in ("987654321", "not-a-number"):
            with pytest.raises(NotFound):
                store.get_experiment(missing)
            with pytest.raises(NotFound):
                store.delete_experiment(missing)

    def test_rename_and_tag_experiment(self, store: TrackingStore) -> None:
        """Rename and tag experiment."""
        exp_id, other, new = store.create_experiment(_unique()), _unique(), _unique()
        store.create_experiment(other)
        store.rename_experiment(exp_id, new)
        assert store.get_experiment(exp_id).name == new
        with pytest.raises(AlreadyExists):
            store.rename_experiment(exp_id, other)
        store.set_experiment_tag(exp_id, "k", "v1")
        store.set_experiment_tag(exp_id, "k", "v2")
        assert dict(store.get_experiment(exp_id).tags) == {"k": "v2"}
        with pytest.raises(InvalidArgument):
            store.set_experiment_tag(exp_id, "k", "v" * (MAX_TAG_VALUE_LENGTH + 1))
        with pytest.raises(NotFound):
            store.set_experiment_tag("987654321", "k", "v")

    def test_search_experiments_pages_and_views(self, store: TrackingStore) -> None:
        """Search experiments pages and views."""
        mine = [store.create_experiment(_unique()) for _ in range(5)]
        store.delete_experiment(mine[1])
        seen: list[str] = []
        token = None
        while True:
            page = store.search_experiments(max_results=2, page_token=token)
            seen += [e.experiment_id for e in page]
            token = page.next_page_token
            if token is None:
                break
        assert [e for e in seen if e in mine] == [mine[0], *mine[2:]]
        deleted = [e.experiment_id for e in store.search_experiments(LifecycleStage.DELETED)]
        assert mine[1] in deleted and mine[0] not in deleted
        every = [e.experiment_id for e in store.search_experiments(None, max_results=50_000)]
        assert set(mine) <= set(every)
        with pytest.raises(InvalidArgument):
            store.search_experiments(page_token="not a token!")

    def test_delete_experiment_hides_its_runs(self, store: TrackingStore) -> None:
        """Delete experiment hides its runs."""
        exp, (run,) = self.make_runs(store, [{"name": "a"}])
        store.delete_experiment(exp)
        assert store.get_experiment(exp).lifecycle_stage is LifecycleStage.DELETED
        assert store.get_run(run.run_id).lifecycle_stage is LifecycleStage.DELETED
        assert self.names(store, exp) == []
        assert self.names(store, exp, view=LifecycleStage.DELETED) == ["a"]
        with pytest.raises(InvalidArgument):
            store.create_run(exp)
        store.restore_experiment(exp)
        assert self.names(store, exp) == ["a"]
        assert store.get_run(run.run_id).lifecycle_stage is LifecycleStage.ACTIVE

    # -- runs -----------------------------------------------------------------------------

    def test_create_run_defaults(self, store: TrackingStore) -> None:
        """Create run defaults."""
        exp = store.create_experiment(_unique())
        run = store.create_run(exp, name="first", tags={"k": "v"})
        assert len(run.run_id) == 32 and int(run.run_id, 16) >= 0
        assert (run.status, run.end_time, run.parent_run_id) == (RunStatus.RUNNING, None, None)
        assert run.artifact_uri == f"{store.get_experiment(exp).artifact_location}/{run.run_id}"
        assert (run.name, dict(run.tags), run.experiment_id) == ("first", {"k": "v"}, exp)
        assert run.start_time > 1_600_000_000_000
        assert store.get_run(run.run_id) == run
        other = store.create_run(exp, artifact_uri="s3://b/r", start_time=5)
        assert (other.artifact_uri, other.start_time) == ("s3://b/r", 5)
        assert other.name

    def test_returned_values_are_immutable(self, store: TrackingStore) -> None:
        """Returned values are immutable."""
        _, (run,) = self.make_runs(store, [{"params": {"a": "1"}, "metrics": {"m": 1.0}}])
        with pytest.raises(TypeError):
            run.params["a"] = "2"  # type: ignore[index]
        with pytest.raises(AttributeError):
            run.name = "x"  # type: ignore[misc]

    def test_create_run_errors(self, store: TrackingStore) -> None:
        """Create run errors."""
        exp = store.create_experiment(_unique())
        with pytest.raises(NotFound):
            store.create_run("987654321")
        with pytest.raises(NotFound):
            store.create_run(exp, parent_run_id=uuid.uuid4().hex)
        with pytest.raises(InvalidArgument):
            store.create_run(exp, tags={"k": "v" * (MAX_TAG_VALUE_LENGTH + 1)})
        assert self.names(store, exp) == []
        with pytest.raises(NotFound):
            store.get_run(uuid.uuid4().hex)

    def test_nested_runs(self, store: TrackingStore) -> None:
        """Nested runs."""
        exp = store.create_experiment(_unique())
        parent = store.create_run(exp, name="sweep")
        for i in range(3):
            store.create_run(exp, name=f"trial{i}", parent_run_id=parent.run_id, start_time=i)
        (child,) = store.search_runs([exp], "name = 'trial1'").items
        assert store.get_run(child.run_id).parent_run_id == parent.run_id
        found = self.names(store, exp, f"parent_run_id = '{parent.run_id}'")
        assert found == ["trial2", "trial1", "trial0"]

    def test_update_run(self, store: TrackingStore) -> None:
        """Update run."""
        run = store.create_run(store.create_experiment(_unique()))
        done = store.update_run(run.run_id, status=RunStatus.FINISHED, end_time=123, name="x")
        assert (done.status, done.end_time, done.name) == (RunStatus.FINISHED, 123, "x")
        assert store.get_run(run.run_id) == done
        assert store.update_run(run.run_id).status is RunStatus.FINISHED
        with pytest.raises(NotFound):
            store.update_run(uuid.uuid4().hex, status=RunStatus.FAILED)

    def test_create_runs_writes_complete_runs_in_order(self, store: TrackingStore) -> None:
        """A pipeline records many finished step runs at once; each reads back whole."""
        exp = store.create_experiment(_unique())
        parent = store.create_run(exp, name="pipeline")
        ids = store.create_runs(
            [
                NewRun(exp, "hit", start_time=10, status=RunStatus.FINISHED, end_time=12,
                       params={"x": "1"}, tags={"cache": "hit"}, parent_run_id=parent.run_id),
                NewRun(exp, start_time=11),
                NewRun(exp, "broken", start_time=12, status=RunStatus.FAILED, end_time=13,
                       parent_run_id=parent.run_id, artifact_uri="s3://b/broken"),
            ]
        )  # fmt: skip
        assert len(ids) == len(set(ids)) == 3 and all(len(i) == 32 for i in ids)
        hit, plain, broken = (store.get_run(i) for i in ids)
        assert (hit.name, hit.status, hit.start_time, hit.end_time) == (
            "hit", RunStatus.FINISHED, 10, 12
        )  # fmt: skip
        assert (dict(hit.params), dict(hit.tags), hit.parent_run_id) == (
            {"x": "1"}, {"cache": "hit"}, parent.run_id
        )  # fmt: skip
        assert hit.artifact_uri == f"{store.get_experiment(exp).artifact_location}/{hit.run_id}"
        assert (plain.status, plain.end_time, plain.parent_run_id) == (
            RunStatus.RUNNING,
            None,
            None,
        )
        assert plain.name
        assert (broken.status, broken.artifact_uri) == (RunStatus.FAILED, "s3://b/broken")
        children = self.names(store, exp, f"parent_run_id = '{parent.run_id}'")
        assert children == ["broken", "hit"]
        assert store.create_runs([]) == []
        store.log_batch(hit.run_id, [Metric("m", 1.0, 0, 0)])  # an ordinary run from then on
        assert store.get_run(hit.run_id).metrics["m"].latest == 1.0

    @pytest.mark.parametrize(
        "bad",
        ["tag-value", "param-key", "no-end-time", "name", "parent", "experiment", "deleted"],
    )
    def test_create_runs_refused_input_writes_nothing(self, store: TrackingStore, bad: str) -> None:
        """One refused record in a batch refuses the batch, and no run is written."""
        exp = store.create_experiment(_unique())
        deleted = store.create_experiment(_unique())
        store.delete_experiment(deleted)
        good = NewRun(exp, "good", status=RunStatus.FINISHED, end_time=1, tags={"t": "v"})
        wrong = {
            "tag-value": NewRun(exp, tags={"k": "v" * (MAX_TAG_VALUE_LENGTH + 1)}),
            "param-key": NewRun(exp, params={"k" * (MAX_KEY_LENGTH + 1): "v"}),
            "no-end-time": NewRun(exp, status=RunStatus.FINISHED),
            "name": NewRun(exp, "n" * 251),
            "parent": NewRun(exp, parent_run_id=uuid.uuid4().hex),
            "experiment": NewRun("987654321"),
            "deleted": NewRun(deleted),
        }[bad]
        error = NotFound if bad in ("parent", "experiment") else InvalidArgument
        with pytest.raises(error):
            store.create_runs([good, wrong])
        assert self.names(store, exp, view=None) == []
        store.restore_experiment(deleted)
        assert self.names(store, deleted, view=None) == []

    def test_end_runs_settles_each_run_whole(self, store: TrackingStore) -> None:
        """A pipeline ends many step runs at once; each gets its params, tags, refs, lineage."""
        exp = store.create_experiment(_unique())
        a, b = store.create_run(exp, name="a"), store.create_run(exp, name="b")
        store.log_batch(a.run_id, params={"lr": "0.1"})
        out = ArtifactRef("outputs/a.json", "sha256:" + "a" * 64, 3, "file:///blobs/a")
        wrote = LineageEdge(NodeKind.RUN, a.run_id, NodeKind.ARTIFACT, out.digest, "output")
        store.end_runs(
            [
                RunEnd(a.run_id, RunStatus.FINISHED, 50, params={"lr": "0.1", "n": "3"},
                       tags={"cache": "miss"}, artifacts=[out], lineage=[wrote]),
                RunEnd(b.run_id, RunStatus.FAILED, 60, tags={"error": "boom"}),
            ]
        )  # fmt: skip
        done_a, done_b = store.get_run(a.run_id), store.get_run(b.run_id)
        assert (done_a.status, done_a.end_time, dict(done_a.params)) == (
            RunStatus.FINISHED, 50, {"lr": "0.1", "n": "3"}
        )  # fmt: skip
        assert dict(done_a.tags) == {"cache": "miss"}
        assert store.list_artifact_refs(a.run_id) == [out]
        assert store.get_lineage(a.run_id) == [wrote]
        assert (done_b.status, done_b.end_time, dict(done_b.tags)) == (
            RunStatus.FAILED, 60, {"error": "boom"}
        )  # fmt: skip
        store.end_runs([])

    @pytest.mark.parametrize("bad", ["unknown-run", "param-conflict", "tag-value", "status"])
    def test_end_runs_refused_input_writes_nothing(self, store: TrackingStore, bad: str) -> None:
        """A refused end refuses the batch: no run changes."""
        exp = store.create_experiment(_unique())
        run = store.create_run(exp)
        store.log_batch(run.run_id, params={"p": "1"})
        wrong = {
            "unknown-run": [RunEnd(uuid.uuid4().hex, RunStatus.FINISHED, 1)],
            "param-conflict": [RunEnd(run.run_id, RunStatus.FINISHED, 1, params={"p": "2"},
                                      tags={"t": "v"})],
            "tag-value": [RunEnd(run.run_id, RunStatus.FINISHED, 1,
                                 tags={"t": "v" * (MAX_TAG_VALUE_LENGTH + 1)})],
            "status": [RunEnd(run.run_id, "DONE", 1)],  # type: ignore[arg-type]
        }[bad]  # fmt: skip
        error = {"unknown-run": NotFound, "param-conflict": ParamConflict}.get(bad, InvalidArgument)
        with pytest.raises(error):
            store.end_runs([*wrong, RunEnd(run.run_id, RunStatus.FINISHED, 1, tags={"t": "v"})])
        after = store.get_run(run.run_id)
        assert (after.status, after.end_time) == (RunStatus.RUNNING, None)
        assert (dict(after.params), dict(after.tags)) == ({"p": "1"}, {})

    def test_delete_and_restore_run(self, store: TrackingStore) -> None:
        """Delete and restore run."""
        exp, (a, b) = self.make_runs(store, [{"name": "a"}, {"name": "b"}])
        store.delete_run(a.run_id)
        assert store.get_run(a.run_id).lifecycle_stage is LifecycleStage.DELETED
        assert self.names(store, exp) == ["b"]
        assert self.names(store, exp, view=LifecycleStage.DELETED) == ["a"]
        assert self.names(store, exp, view=None) == ["b", "a"]
        store.restore_run(a.run_id)
        assert self.names(store, exp) == ["b", "a"]
        with pytest.raises(NotFound):
            store.delete_run(uuid.uuid4().hex)

    # -- log_batch ------------------------------------------------------------------------

    def test_metric_values_roundtrip_faithfully(self, store: TrackingStore) -> None:
        """Metric values roundtrip faithfully."""
        run = store.create_run(store.create_experiment(_unique()))
        values = [0.5, NAN, INF, -INF, -0.0, 1e-300, 1.7976931348623157e308]
        store.log_batch(run.run_id, [Metric("m", v, i, 10 + i) for i, v in enumerate(values)])
        series = store.get_metric_history(run.run_id, "m")
        assert len(series) == len(values)
        assert all(_same(a, b) for a, b in zip(series.values, values, strict=True))
        assert math.copysign(1.0, series.values[4]) == -1.0
        assert list(series.steps) == list(range(7))
        assert list(series.timestamps) == list(range(10, 17))
        assert [p.value for p in series.points()][:1] == [0.5]

    def test_series_keep_logging_order_across_batches(self, store: TrackingStore) -> None:
        """Series keep logging order across batches."""
        run = store.create_run(store.create_experiment(_unique()))
        store.log_batch(run.run_id, [Metric("m", 1.0, 5, 1), Metric("m", 2.0, 3, 2)])
        store.log_batch(run.run_id, [Metric("m", 3.0, 4, 3), Metric("other", 9.0, 0, 0)])
        assert list(store.get_metric_history(run.run_id, "m").steps) == [5, 3, 4]
        assert len(store.get_metric_history(run.run_id, "never")) == 0
        with pytest.raises(NotFound):
            store.get_metric_history(uuid.uuid4().hex, "m")

    def test_summaries(self, store: TrackingStore) -> None:
        """Summaries."""
        run = store.create_run(store.create_experiment(_unique()))
        store.log_batch(run.run_id, [Metric("m", 3.0, 2, 100), Metric("m", NAN, 1, 200)])
        store.log_batch(run.run_id, [Metric("m", -1.0, 2, 50), Metric("m", 7.0, 0, 300)])
        store.log_batch(run.run_id, [Metric("n", NAN, 0, 0)])
        m = store.get_run(run.run_id).metrics["m"]
        assert (m.latest, m.latest_step, m.latest_timestamp) == (3.0, 2, 100)
        assert (m.min, m.max, m.count) == (-1.0, 7.0, 4)
        n = store.get_run(run.run_id).metrics["n"]
        assert math.isnan(n.latest) and math.isnan(n.min) and math.isnan(n.max)
        assert n.count == 1
        store.log_batch(run.run_id, [Metric("m", INF, 9, 0)])
        m = store.get_run(run.run_id).metrics["m"]
        assert (m.latest, m.max, m.count) == (INF, INF, 5)

    def test_params_are_immutable_and_a_conflict_writes_nothing(self, store: TrackingStore) -> None:
        """Params are immutable and a conflict writes nothing."""
        run = store.create_run(store.create_experiment(_unique()))
        store.log_batch(run.run_id, params={"lr": "0.1"})
        store.log_batch(run.run_id, params={"lr": "0.1"})  # same value: a no-op
        with pytest.raises(ParamConflict) as info:
            store.log_batch(
                run.run_id,
                [Metric("acc", 1.0, 0, 0)],
                params={"new": "x", "lr": "0.2"},
                tags={"t": "v"},
                batch_id="conflicting",
            )
        assert "lr" in str(info.value) and "0.1" in str(info.value) and "0.2" in str(info.value)
        after = store.get_run(run.run_id)
        assert (dict(after.params), dict(after.tags), dict(after.metrics)) == (
            {"lr": "0.1"},
            {},
            {},
        )
        store.log_batch(run.run_id, [Metric("acc", 1.0, 0, 0)], batch_id="conflicting")
        assert store.get_run(run.run_id).metrics["acc"].count == 1

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"params": {"k" * (MAX_KEY_LENGTH + 1): "v"}},
            {"params": {"k": "v" * (MAX_PARAM_VALUE_LENGTH + 1)}},
            {"tags": {"k": "v" * (MAX_TAG_VALUE_LENGTH + 1)}},
            {"tags": {"": "v"}},
            {"metrics": [Metric("m" * (MAX_KEY_LENGTH + 1), 1.0, 0, 0)]},
            {"metrics": [Metric("m", 1.0, NAN, 0)]},  # type: ignore[arg-type]
            {"metrics": [Metric("m", 1.0, 1.5, 0)]},  # type: ignore[arg-type]
            {"metrics": [Metric("m", 1.0, INF, 0)]},  # type: ignore[arg-type]
            {"metrics": [Metric("m", "high", 0, 0)]},  # type: ignore[arg-type]
        ],
        ids=["param-key", "param-value", "tag-value", "empty-key", "metric-key", "nan-step",
             "fractional-step", "inf-step", "string-value"],
    )  # fmt: skip
    def test_refused_input_writes_nothing(
        self, store: TrackingStore, kwargs: dict[str, Any]
    ) -> None:
        """Refused input writes nothing."""
        run = store.create_run(store.create_experiment(_unique()))
        full: dict[str, Any] = {
            "metrics": [Metric("ok", 1.0, 0, 0), *kwargs.get("metrics", [])],
            "params": {"p": "1", **kwargs.get("params", {})},
            "tags": kwargs.get("tags"),
        }
        with pytest.raises(InvalidArgument):
            store.log_batch(run.run_id, **full)
        after = store.get_run(run.run_id)
        assert (dict(after.params), dict(after.tags), dict(after.metrics)) == ({}, {}, {})

    def test_batch_ids_make_retries_idempotent(self, store: TrackingStore) -> None:
        """Batch ids make retries idempotent."""
        exp = store.create_experiment(_unique())
        run, other = store.create_run(exp), store.create_run(exp)
        points = [Metric("m", float(i), i, i) for i in range(10)]
        for _ in range(3):
            store.log_batch(run.run_id, points, tags={"t": "1"}, batch_id="batch-1")
        store.log_batch(run.run_id, points[:2], batch_id="batch-2")
        store.log_batch(other.run_id, points, batch_id="batch-1")  # ids are per run
        assert len(store.get_metric_history(run.run_id, "m")) == 12
        assert len(store.get_metric_history(other.run_id, "m")) == 10
        with pytest.raises(NotFound):
            store.log_batch(uuid.uuid4().hex, points, batch_id="batch-1")

    def test_tags_overwrite_and_delete(self, store: TrackingStore) -> None:
        """Tags overwrite and delete."""
        run = store.create_run(store.create_experiment(_unique()), tags={"a": "1"})
        store.log_batch(run.run_id, tags={"a": "2", "b": "3"})
        assert dict(store.get_run(run.run_id).tags) == {"a": "2", "b": "3"}
        store.delete_tag(run.run_id, "a")
        assert dict(store.get_run(run.run_id).tags) == {"b": "3"}
        with pytest.raises(NotFound):
            store.delete_tag(run.run_id, "a")
        with pytest.raises(NotFound):
            store.delete_tag(uuid.uuid4().hex, "b")

    def test_metric_histories_of_many_runs(self, store: TrackingStore) -> None:
        """Metric histories of many runs."""
        exp = store.create_experiment(_unique())
        runs = [store.create_run(exp) for _ in range(3)]
        for i, run in enumerate(runs[:2]):
            store.log_batch(run.run_id, [Metric("m", float(i), s, 0) for s in range(i + 1)])
        ids = [runs[1].run_id, runs[2].run_id, runs[0].run_id]
        series = store.get_metric_histories(ids, "m")
        assert [(s.run_id, len(s)) for s in series] == [(ids[0], 2), (ids[1], 0), (ids[2], 1)]
        with pytest.raises(NotFound):
            store.get_metric_histories([runs[0].run_id, uuid.uuid4().hex], "m")

    # -- search ---------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("filter_string", "expected"),
        [
            ("", ["d", "c", "b", "a"]),
            ("metrics.acc = 0.9", ["b"]),
            ("metrics.acc != 0.9", ["c", "a"]),
            ("metrics.acc > 0.5", ["c", "b"]),
            ("metrics.acc >= 0.5", ["c", "b", "a"]),
            ("metrics.acc < 0.7", ["a"]),
            ("metrics.acc <= 0.7", ["c", "a"]),
            ("metrics.acc in (0.5, 0.9)", ["b", "a"]),
            ("metrics.`val/acc` > 0.1", ["a"]),
            ('metrics."val/acc" < 1', ["a"]),
            ("params.lr = '0.1'", ["c", "a"]),
            ("params.lr != '0.1'", ["d", "b"]),
            ("params.lr in ('0.01', '0.001')", ["d", "b"]),
            ("params.lr not in ('0.01', '0.001')", ["c", "a"]),
            ("params.opt like 'a%'", ["c"]),
            ("params.opt ilike 'a%'", ["c", "a"]),
            ("params.opt not like '%a%'", ["b"]),
            ("tags.team = 'x'", ["d", "a"]),
            ("tags.team LIKE '_'", ["d", "b", "a"]),
            ("name = 'b'", ["b"]),
            ("attributes.run_name in ('a', 'c')", ["c", "a"]),
            ("status = 'RUNNING' and start_time >= 1002", ["d", "c"]),
            ("metrics.acc > 0.6 AND params.lr = '0.1'", ["c"]),
            ("metrics.acc > 0.6 or tags.team = 'x'", ["d", "c", "b", "a"]),
            ("params.lr = '0.1' and (metrics.acc > 0.6 or tags.team = 'x')", ["c", "a"]),
            ("(params.lr = '0.1' and metrics.acc > 0.6) or tags.team = 'y'", ["c", "b"]),
            ("params.lr = '0.1' and metrics.acc > 0.6 or tags.team = 'y'", ["c", "b"]),
            ("metrics.loss < 1 and metrics.acc > 0.8", ["b"]),
            ("params.missing = 'x'", []),
            ("metrics.`acc`.min >= 0.7", ["c", "b"]),
        ],
    )
    def test_search_filters(
        self, store: TrackingStore, grid: str, filter_string: str, expected: list[str]
    ) -> None:
        """Search filters."""
        assert self.names(store, grid, filter_string) == expected

    def test_search_by_run_id_and_experiments(self, store: TrackingStore) -> None:
        """Search by run id and experiments."""
        exp1, runs1 = self.make_runs(store, [{"name": "a"}, {"name": "b"}])
        exp2, runs2 = self.make_runs(store, [{"name": "c"}])
        ids = f"('{runs1[0].run_id}', '{runs2[0].run_id}')"
        found = store.search_runs([exp1, exp2], f"run_id in {ids}", order_by=["name"])
        assert [r.name for r in found] == ["a", "c"]
        assert len(store.search_runs([exp1, exp2])) == 3
        assert len(store.search_runs([])) == 0

    @pytest.mark.parametrize(
        ("order_by", "expected"),
        [
            (["metrics.acc desc"], ["b", "c", "a", "d"]),
            (["metrics.acc"], ["a", "c", "b", "d"]),
            (["metrics.loss DESC"], ["c", "b", "d", "a"]),
            (["params.opt"], ["a", "c", "b", "d"]),
            (["tags.team desc", "metrics.acc desc"], ["b", "a", "d", "c"]),
            (["params.lr", "metrics.acc desc"], ["d", "b", "c", "a"]),
            (["start_time"], ["a", "b", "c", "d"]),
            (["attributes.name DESC"], ["d", "c", "b", "a"]),
        ],
    )
    def test_search_order_by(
        self, store: TrackingStore, grid: str, order_by: list[str], expected: list[str]
    ) -> None:
        """Search order by."""
        assert self.names(store, grid, order_by=order_by) == expected

    def test_order_ties_break_on_start_time_then_run_id(self, store: TrackingStore) -> None:
        """Order ties break on start time then run id."""
        exp = store.create_experiment(_unique())
        runs = [store.create_run(exp, name=f"r{i}", start_time=7) for i in range(4)]
        store.create_run(exp, name="later", start_time=8)
        by_id = [r.name for r in sorted(runs, key=lambda r: r.run_id)]
        assert self.names(store, exp, order_by=["status"]) == ["later", *by_id]

    @pytest.mark.parametrize("order_by", [[], ["metrics.m desc"], ["metrics.m"], ["params.p"]])
    def test_paging_returns_every_run_once(self, store: TrackingStore, order_by: list[str]) -> None:
        """Paging returns every run once."""
        specs = [
            {"name": f"r{i:02d}", "params": {"p": str(i % 3)}}
            | ({"metrics": {"m": float(i % 5)}} if i % 4 else {})
            for i in range(23)
        ]
        exp, runs = self.make_runs(store, specs)
        store.log_batch(runs[5].run_id, [Metric("m", NAN, 9, 9)])
        seen: list[str] = []
        token = None
        for _ in range(10):
            page = store.search_runs([exp], order_by=order_by, max_results=5, page_token=token)
            assert len(page) <= 5
            seen += [r.name for r in page]
            token = page.next_page_token
            if token is None:
                break
        assert sorted(seen) == sorted(str(s["name"]) for s in specs)
        assert seen == self.names(store, exp, order_by=order_by)
        if order_by and order_by[0].startswith("metrics"):
            tail = [r.name for r in runs if "m" not in r.metrics or r.name == "r05"]
            assert set(seen[-len(tail) :]) == set(tail)

    @pytest.mark.parametrize(
        ("filter_string", "position"),
        [
            ("foo.x = 1", 0),
            ("metrics.acc >", 13),
            ("metrics.acc > 0.5 and", 21),
            ("params.lr = 'unclosed", 12),
            ("(metrics.acc > 0.5", 0),
            ("metrics.acc > 0.5)", 17),
            ("params.lr > '0.1'", 10),
            ("params.lr = 0.1", 12),
            ("metrics.acc = 'high'", 14),
            ("metrics.acc like '0.%'", 12),
            ("nonsense = 'x'", 0),
            ("metrics.acc ~ 1", 12),
            ("params.lr in '0.1'", 13),
            ("metrics.acc > 0.5 params.lr = '1'", 18),
        ],
    )
    def test_invalid_filters_point_at_the_token(
        self, store: TrackingStore, filter_string: str, position: int
    ) -> None:
        """Invalid filters point at the token."""
        exp = store.create_experiment(_unique())
        with pytest.raises(InvalidFilter) as info:
            store.search_runs([exp], filter_string)
        assert info.value.position == position
        assert info.value.text == filter_string

    def test_invalid_order_by_page_token_and_max_results(self, store: TrackingStore) -> None:
        """Invalid order by page token and max results."""
        exp = store.create_experiment(_unique())
        for bad in (["metrics.acc sideways"], ["bogus"], [""]):
            with pytest.raises(InvalidFilter):
                store.search_runs([exp], order_by=bad)
        for token in ("garbage!!", "e30x", "WzEsMl0"):
            with pytest.raises(InvalidArgument):
                store.search_runs([exp], page_token=token)
        for n in (0, -1, 50_001):
            with pytest.raises(InvalidArgument):
                store.search_runs([exp], max_results=n)

    # -- artifacts, lineage, cache --------------------------------------------------------

    def test_artifact_refs(self, store: TrackingStore) -> None:
        """Artifact refs."""
        run = store.create_run(store.create_experiment(_unique()))
        refs = [
            ArtifactRef("model/weights.pt", "sha256:aa", 10, "file:///cas/aa"),
            ArtifactRef("eval/report.json", "sha256:bb", 2, "file:///cas/bb"),
            ArtifactRef("model/config.json", "sha256:cc", 3, "file:///cas/cc"),
        ]
        store.log_artifact_refs(run.run_id, refs)
        assert [r.path for r in store.list_artifact_refs(run.run_id)] == [
            "eval/report.json", "model/config.json", "model/weights.pt",
        ]  # fmt: skip
        replaced = ArtifactRef("model/weights.pt", "sha256:dd", 11, "file:///cas/dd")
        store.log_artifact_refs(run.run_id, [replaced])
        assert store.list_artifact_refs(run.run_id, prefix="model/w") == [replaced]
        with pytest.raises(NotFound):
            store.log_artifact_refs(uuid.uuid4().hex, refs)
        with pytest.raises(NotFound):
            store.list_artifact_refs(uuid.uuid4().hex)

    def test_lineage(self, store: TrackingStore) -> None:
        """Lineage."""
        run, data, model = uuid.uuid4().hex, _unique("data"), _unique("model")
        read = LineageEdge(NodeKind.DATASET, data, NodeKind.RUN, run, "input")
        wrote = LineageEdge(NodeKind.RUN, run, NodeKind.MODEL, model, "output")
        store.add_lineage([read, wrote, read])
        store.add_lineage([read])
        assert store.get_lineage(run, "upstream") == [read]
        assert store.get_lineage(run, "downstream") == [wrote]
        assert sorted(store.get_lineage(run), key=lambda e: e.relation) == [read, wrote]
        assert store.get_lineage(model) == [wrote]
        assert store.get_lineage(_unique()) == []
        with pytest.raises(InvalidArgument):
            store.get_lineage(run, "sideways")

    def test_cache_entries(self, store: TrackingStore) -> None:
        """Cache entries."""
        if not store.supports_cache:
            pytest.skip("this backend keeps no pipeline cache")
        key = _unique("key")
        assert store.get_cache_entry(key) is None
        store.put_cache_entry(key, '{"out": "sha256:aa"}')
        assert store.get_cache_entry(key) == '{"out": "sha256:aa"}'
        store.put_cache_entry(key, "v2")
        assert store.get_cache_entry(key) == "v2"
        with pytest.raises(InvalidArgument):
            store.put_cache_entry("", "x")

    # -- model registry and API tokens (optional) -----------------------------------------

    @staticmethod
    def _needs_registry(store: TrackingStore) -> None:
        if not store.supports_registry:
            pytest.skip("this backend has no model registry")

    def test_registered_models_lifecycle(self, store: TrackingStore) -> None:
        """A model is created, read, renamed, re-described and deleted; names are unique."""
        self._needs_registry(store)
        name = _unique("model")
        made = store.create_registered_model(name, "detects cars", {"team": "vision"})
        assert (made.name, made.description, dict(made.tags)) == (name, "detects cars",
                                                                    {"team": "vision"})  # fmt: skip
        assert made.creation_time == made.last_updated_time > 0
        assert store.get_registered_model(name) == made
        with pytest.raises(TypeError):
            made.tags["team"] = "x"  # type: ignore[index]
        with pytest.raises(AlreadyExists):
            store.create_registered_model(name)
        with pytest.raises(InvalidArgument):
            store.create_registered_model("")
        renamed = store.update_registered_model(name, new_name=name + "-v2", description="cars")
        assert (renamed.name, renamed.description) == (name + "-v2", "cars")
        assert dict(store.get_registered_model(name + "-v2").tags) == {"team": "vision"}
        with pytest.raises(NotFound):
            store.get_registered_model(name)
        other = store.create_registered_model(_unique("model"))
        with pytest.raises(AlreadyExists):
            store.update_registered_model(other.name, new_name=name + "-v2")
        store.delete_registered_model(name + "-v2")
        for gone in (name + "-v2", _unique("never")):
            with pytest.raises(NotFound):
                store.get_registered_model(gone)
        with pytest.raises(NotFound):
            store.delete_registered_model(name + "-v2")
        assert store.get_registered_model(other.name) == other

    def test_registered_model_tags_and_search(self, store: TrackingStore) -> None:
        """Tags overwrite and delete; searching a name pattern pages through every model once."""
        self._needs_registry(store)
        prefix = _unique("search")
        names = [f"{prefix}/m{i}" for i in range(5)]  # "/" is an ordinary character
        for n in reversed(names):
            store.create_registered_model(n)
        store.set_registered_model_tag(names[0], "stage", "dev")
        store.set_registered_model_tag(names[0], "stage", "prod")
        store.set_registered_model_tag(names[0], "owner", "ana")
        assert dict(store.get_registered_model(names[0]).tags) == {"stage": "prod", "owner": "ana"}
        store.delete_registered_model_tag(names[0], "owner")
        assert dict(store.get_registered_model(names[0]).tags) == {"stage": "prod"}
        with pytest.raises(NotFound):
            store.delete_registered_model_tag(names[0], "owner")
        with pytest.raises(NotFound):
            store.set_registered_model_tag(_unique("missing"), "k", "v")
        with pytest.raises(InvalidArgument):
            store.set_registered_model_tag(names[0], "", "v")
        seen, token = [], None
        while True:
            page = store.search_registered_models(f"{prefix}%", max_results=2, page_token=token)
            seen += [m.name for m in page]
            token = page.next_page_token
            if token is None:
                break
        assert seen == names
        assert [m.name for m in store.search_registered_models(names[3])] == [names[3]]
        with pytest.raises(InvalidArgument):
            store.search_registered_models(page_token="not a token!")

    def test_model_versions(self, store: TrackingStore) -> None:
        """Versions number up from 1, are never reused, and carry tags, stage and source."""
        self._needs_registry(store)
        name = _unique("model")
        store.create_registered_model(name)
        run = store.create_run(store.create_experiment(_unique()))
        v1 = store.create_model_version(name, "runs:/x/model", run.run_id, "first", {"a": "1"})
        assert (v1.name, v1.version, v1.source, v1.run_id) == (name, 1, "runs:/x/model",
                                                               run.run_id)  # fmt: skip
        assert (v1.description, v1.status, v1.stage) == ("first", "READY", "None")
        assert dict(v1.tags) == {"a": "1"}
        v2 = store.create_model_version(name, "s3://bucket/m2")
        v3 = store.create_model_version(name, "s3://bucket/m3", run.run_id)
        assert [v2.version, v3.version, v2.run_id] == [2, 3, None]
        assert store.get_model_version(name, 1) == v1
        page = store.search_model_versions(name=name)
        assert [v.version for v in page] == [3, 2, 1]
        assert [v.version for v in store.search_model_versions(run_id=run.run_id)] == [3, 1]
        staged = store.update_model_version(name, 2, description="canary", stage="staging")
        assert (staged.description, staged.stage) == ("canary", "Staging")
        with pytest.raises(InvalidArgument):
            store.update_model_version(name, 2, stage="Live")
        store.set_model_version_tag(name, 2, "eval", "passed")
        assert dict(store.get_model_version(name, 2).tags) == {"eval": "passed"}
        store.delete_model_version_tag(name, 2, "eval")
        with pytest.raises(NotFound):
            store.delete_model_version_tag(name, 2, "eval")
        store.delete_model_version(name, 3)
        assert store.create_model_version(name, "s3://bucket/m4").version == 4
        for missing in ((name, 3), (name, 99), (_unique("missing"), 1)):
            with pytest.raises(NotFound):
                store.get_model_version(*missing)
        with pytest.raises(NotFound):
            store.create_model_version(_unique("missing"), "s3://x")
        with pytest.raises(InvalidArgument):
            store.create_model_version(name, "")
        assert [v.version for v in store.search_model_versions(name=name)] == [4, 2, 1]

    def test_model_aliases(self, store: TrackingStore) -> None:
        """An alias points at one version, moves, resolves, and goes with its version."""
        self._needs_registry(store)
        name = _unique("model")
        store.create_registered_model(name)
        for source in ("a", "b", "c"):
            store.create_model_version(name, f"s3://bucket/{source}")
        store.set_model_alias(name, "champion", 1)
        store.set_model_alias(name, "challenger", 2)
        assert store.get_model_version_by_alias(name, "champion").version == 1
        store.set_model_alias(name, "champion", 3)  # moves
        assert store.get_model_version_by_alias(name, "champion").source == "s3://bucket/c"
        assert dict(store.get_registered_model(name).aliases) == {"champion": 3, "challenger": 2}
        assert store.get_model_version(name, 3).aliases == ("champion",)
        for reserved in ("latest", "7"):
            with pytest.raises(InvalidArgument):
                store.set_model_alias(name, reserved, 1)
        with pytest.raises(NotFound):
            store.set_model_alias(name, "ghost", 99)
        store.delete_model_alias(name, "challenger")
        with pytest.raises(NotFound):
            store.get_model_version_by_alias(name, "challenger")
        with pytest.raises(NotFound):
            store.delete_model_alias(name, "challenger")
        store.delete_model_version(name, 3)
        assert dict(store.get_registered_model(name).aliases) == {}
        with pytest.raises(NotFound):
            store.get_model_version_by_alias(name, "champion")

    def test_api_tokens(self, store: TrackingStore) -> None:
        """Tokens are kept by hash, listed, revoked; ids are unique and scopes checked."""
        if not store.supports_tokens:
            pytest.skip("this backend keeps no API tokens")
        import hashlib

        token_id = uuid.uuid4().hex[:12]
        digest = hashlib.sha256(token_id.encode()).hexdigest()
        made = store.create_token(token_id, "ci", "write", digest)
        assert (made.token_id, made.name, made.scope) == (token_id, "ci", "write")
        assert not made.revoked
        assert made.is_valid()
        assert store.find_token(digest) == made
        assert store.find_token(hashlib.sha256(b"unknown").hexdigest()) is None
        assert made in store.list_tokens()
        with pytest.raises(AlreadyExists):
            store.create_token(token_id, "again", "read", hashlib.sha256(b"x").hexdigest())
        with pytest.raises(InvalidArgument):
            store.create_token(uuid.uuid4().hex[:12], "bad", "root", digest[::-1])
        store.revoke_token(token_id)
        found = store.find_token(digest)
        assert found is not None and found.revoked and not found.is_valid()
        with pytest.raises(NotFound):
            store.revoke_token(uuid.uuid4().hex[:12])
