"""The step cache as a user meets it: hits on re-runs, misses `why` explains, no wrong hit."""

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

import runyard.pipelines as ry
from runyard.pipelines import CacheUse, StepStatus
from runyard.pipelines.loader import load_pipeline
from runyard.pipelines.serializers import PickleFallbackWarning
from runyard.pipelines.why import explain
from runyard.tracking.store import TrackingStore


@ry.step
def load(n: int) -> dict[str, list[int]]:
    return {"x": list(range(n))}


@ry.step
def train(data: dict[str, list[int]], lr: float) -> float:
    return sum(data["x"]) * lr


@ry.step
def best(models: list[float]) -> float:
    return max(models)


@ry.pipeline
def digits(n: int = 10, lrs: list[float] = [0.01, 0.1]):  # noqa: B006
    return best(train.map(data=load(n), lr=lrs))


def _cache_use(result: ry.PipelineResult) -> dict[str, str]:
    return {s.label: s.cache.value for s in result.steps}


def test_a_second_run_is_answered_from_the_cache(
    where: dict[str, Any], store: TrackingStore
) -> None:
    first = digits.run(n=5, **where)
    second = digits.run(n=5, **where)
    assert second.value == first.value == 1.0
    assert all(s.status is StepStatus.CACHED for s in second.steps)
    hit = store.get_run(second.step("load")[0].run_id or "")
    assert hit.tags["runyard.cache"] == "hit"
    assert hit.parent_run_id == second.run_id


def test_changing_a_param_reruns_only_what_depends_on_it_and_why_says_so(
    where: dict[str, Any], store: TrackingStore
) -> None:
    digits.run(n=5, lrs=[0.01, 0.1], **where)
    again = digits.run(n=5, lrs=[0.01, 0.2], **where)
    assert _cache_use(again) == {
        "load": "hit",
        "train[0]": "hit",
        "train[1]": "miss",
        "best": "miss",
    }
    (train_1,) = explain(store, again.run_id, "train[1]")
    assert train_1.lines()[1] == "  - param 'lr' changed: 0.1 -> 0.2"
    (best_why,) = explain(store, again.run_id, "best")
    assert "input 'models' has different content" in best_why.lines()[1]
    (load_why,) = explain(store, again.run_id, "load")
    assert "cache hit" in load_why.lines()[0]


def test_no_cache_runs_everything_and_says_why(where: dict[str, Any]) -> None:
    digits.run(n=3, **where)
    fresh = digits.run(n=3, cache=False, **where)
    assert {s.cache for s in fresh.steps} == {CacheUse.OFF}
    assert {s.status for s in fresh.steps} == {StepStatus.FINISHED}
    assert fresh.steps[0].cache_reason == "caching is off for this run"


@ry.step(cache=False)
def uncached(x: int) -> int:
    return x + 1


def test_cache_false_on_a_step_always_runs_it(where: dict[str, Any], store: TrackingStore) -> None:
    @ry.pipeline
    def p(x: int = 1):
        return uncached(x)

    p.run(**where)
    again = p.run(**where)
    (record,) = again.steps
    assert record.cache is CacheUse.OFF and record.status is StepStatus.FINISHED
    (why,) = explain(store, again.run_id, "uncached")
    assert why.lines()[0].endswith("not cached — the step has cache=False")


class Opaque:
    def __init__(self, v: int) -> None:
        self.v = v


@ry.step
def read_opaque(o: Opaque) -> int:
    return o.v


def test_an_input_that_cannot_be_hashed_is_never_a_hit_and_the_run_says_why(
    where: dict[str, Any],
) -> None:
    @ry.pipeline
    def p(o: Opaque = Opaque(1)):  # noqa: B008
        return read_opaque(o)

    assert p.run(**where).value == 1
    second = p.run(o=Opaque(2), **where)
    (record,) = second.steps
    assert second.value == 2
    assert record.cache is CacheUse.OFF
    assert "input 'o' cannot be hashed: cannot fingerprint a" in (record.cache_reason or "")


@ry.step
def np_out(n: int) -> np.ndarray:
    return np.arange(n, dtype="f4")


@ry.step
def pd_out(n: int) -> pd.DataFrame:
    return pd.DataFrame({"a": range(n), "b": ["x"] * n})


@ry.step
def pl_out(n: int) -> pl.DataFrame:
    return pl.DataFrame({"a": list(range(n))})


def test_outputs_come_back_from_the_cache_as_the_same_types(
    where: dict[str, Any], store: TrackingStore
) -> None:
    @ry.pipeline
    def p(n: int = 3):
        return {"np": np_out(n), "pd": pd_out(n), "pl": pl_out(n)}

    first = p.run(**where).value
    second = p.run(**where)
    assert {s.status for s in second.steps} == {StepStatus.CACHED}
    assert second.value["np"].dtype == np.float32
    np.testing.assert_array_equal(second.value["np"], first["np"])
    pd.testing.assert_frame_equal(second.value["pd"], first["pd"])
    assert second.value["pl"].equals(first["pl"])
    formats = {
        store.get_run(s.run_id or "").tags["runyard.output.serializer"] for s in second.steps
    }
    assert formats == {"numpy", "pandas-parquet", "polars-parquet"}


@ry.step
def opaque_out(v: int) -> Opaque:
    return Opaque(v)


@ry.step(serializer="pickle")
def declared_pickle(v: int) -> Opaque:
    return Opaque(v)


def test_pickle_is_a_fallback_that_warns_unless_declared(where: dict[str, Any]) -> None:
    @ry.pipeline
    def undeclared(v: int = 1):
        return opaque_out(v)

    @ry.pipeline
    def declared(v: int = 1):
        return declared_pickle(v)

    with pytest.warns(PickleFallbackWarning, match="declare serializer='pickle'"):
        undeclared.run(**where)
    assert declared.run(**where).value.v == 1  # no warning: warnings are errors here


PIPELINE_V = """
import runyard.pipelines as ry

@ry.step{options}
def work(x: int) -> int:
    return x {op} 1

@ry.pipeline(name="versioned")
def p(x: int = 1):
    return work(x)
"""


def _versioned(tmp_path: Path, name: str, op: str, options: str = "") -> ry.Pipeline:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(PIPELINE_V.format(op=op, options=options)))
    return load_pipeline(f"{path}:p")


def test_a_code_change_is_a_miss_that_why_blames_on_the_code(
    tmp_path: Path, where: dict[str, Any], store: TrackingStore
) -> None:
    _versioned(tmp_path, "v_plus", "+").run(**where)
    changed = _versioned(tmp_path, "v_minus", "-").run(**where)
    assert changed.value == 0 and changed.steps[0].cache is CacheUse.MISS
    (why,) = explain(store, changed.run_id, "work")
    assert why.lines()[1] == "  - the step's code changed (or something it calls)"


def test_an_explicit_version_overrides_the_code_fingerprint(
    tmp_path: Path, where: dict[str, Any]
) -> None:
    _versioned(tmp_path, "ver_a", "+", '(version="1")').run(**where)
    same_version = _versioned(tmp_path, "ver_b", "*", '(version="1")').run(**where)
    assert same_version.steps[0].cache is CacheUse.HIT
    assert same_version.value == 2  # the stored output of version 1, as declared
