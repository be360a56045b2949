"""Resuming a failed run re-runs only what did not succeed — with or without the cache."""

import os
from pathlib import Path
from typing import Any

import pytest

import runyard.pipelines as ry
from runyard.errors import InvalidArgument
from runyard.pipelines import CacheUse, PipelineFailed, StepStatus


def _count(folder: str, name: str) -> None:
    path = Path(folder) / name
    path.write_text(str(int(path.read_text()) + 1 if path.exists() else 1))


@ry.step(cache=False)
def prepare(folder: str) -> int:
    _count(folder, "prepare")
    return 20


@ry.step(cache=False)
def fragile(x: int, folder: str) -> int:
    _count(folder, "fragile")
    if os.environ.get("RUNYARD_TEST_BREAK") == "1":
        raise RuntimeError("the disk is full")
    return x + 1


@ry.pipeline
def two_steps(folder: str = ""):
    return fragile(prepare(folder), folder)


def test_resume_reuses_what_succeeded_and_reruns_the_rest(
    tmp_path: Path, where: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNYARD_TEST_BREAK", "1")
    with pytest.raises(PipelineFailed, match="the disk is full") as info:
        two_steps.run(folder=str(tmp_path), **where)
    failed_run = info.value.result.run_id

    monkeypatch.setenv("RUNYARD_TEST_BREAK", "0")
    resumed = two_steps.run(resume=failed_run, **where)
    assert resumed.value == 21
    (prep,) = resumed.step("prepare")
    assert prep.cache is CacheUse.RESUMED and prep.status is StepStatus.FINISHED
    assert (tmp_path / "prepare").read_text() == "1"  # not run again, though cache=False
    assert (tmp_path / "fragile").read_text() == "2"


def test_resume_refuses_new_params_and_runs_of_other_pipelines(
    tmp_path: Path, where: dict[str, Any]
) -> None:
    done = two_steps.run(folder=str(tmp_path), **where)
    with pytest.raises(InvalidArgument, match="keeps the parameters"):
        two_steps.run(resume=done.run_id, folder="elsewhere", **where)

    @ry.pipeline
    def other(folder: str = ""):
        return prepare(folder)

    with pytest.raises(InvalidArgument, match="not a run of pipeline 'other'"):
        other.run(resume=done.run_id, **where)


@ry.step
def numbers(n: int) -> list[int]:
    return list(range(n))


@ry.step(cache=False)
def fragile_sum(xs: list[int], folder: str) -> int:
    _count(folder, "fragile_sum")
    if os.environ.get("RUNYARD_TEST_BREAK") == "1":
        raise RuntimeError("the disk is full")
    return sum(xs)


@ry.pipeline
def hit_then_fragile(n: int = 4, folder: str = ""):
    return fragile_sum(numbers(n), folder)


def test_resume_reuses_a_cache_hit_of_the_run_it_resumes(
    tmp_path: Path, where: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNYARD_TEST_BREAK", "0")
    hit_then_fragile.run(folder=str(tmp_path), **where)
    monkeypatch.setenv("RUNYARD_TEST_BREAK", "1")
    with pytest.raises(PipelineFailed, match="the disk is full") as info:
        hit_then_fragile.run(folder=str(tmp_path), **where)
    assert info.value.result.step("numbers")[0].cache is CacheUse.HIT

    monkeypatch.setenv("RUNYARD_TEST_BREAK", "0")
    resumed = hit_then_fragile.run(resume=info.value.result.run_id, **where)
    assert resumed.value == 6
    assert resumed.step("numbers")[0].cache is CacheUse.RESUMED
    assert (tmp_path / "fragile_sum").read_text() == "3"
