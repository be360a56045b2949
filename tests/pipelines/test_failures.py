"""Failures a user sees: the traceback, the dependents, retries, timeouts, lost workers."""

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

import runyard.pipelines as ry
from runyard.artifacts import ContentAddressedStore
from runyard.entities import RunStatus
from runyard.pipelines import PipelineFailed, StepStatus
from runyard.tracking.store import TrackingStore


class BadBatch(ValueError):
    pass


@ry.step
def source(n: int) -> int:
    return n


@ry.step
def explode(x: int) -> int:
    raise BadBatch(f"batch {x} is corrupt")


@ry.step
def after(x: int) -> int:
    return x + 1


@ry.step
def independent(n: int) -> int:
    return n * 10


@ry.pipeline
def mixed(n: int = 3):
    return {"bad": after(explode(source(n))), "good": independent(n)}


def test_a_failing_step_fails_its_dependents_and_independent_branches_finish(
    where: dict[str, Any], store: TrackingStore, cas: ContentAddressedStore
) -> None:
    with pytest.raises(
        PipelineFailed, match="step explode raised BadBatch: batch 3 is corrupt"
    ) as info:
        mixed.run(**where)
    assert isinstance(info.value.original, BadBatch)
    result = info.value.result
    status = {s.label: s.status for s in result.steps}
    assert status == {
        "source": StepStatus.FINISHED,
        "independent": StepStatus.FINISHED,
        "explode": StepStatus.FAILED,
        "after": StepStatus.FAILED,
    }
    (failed,) = result.step("explode")
    assert 'raise BadBatch(f"batch {x} is corrupt")' in (failed.error or "")
    assert "runyard/pipelines" not in (failed.error or "")  # runyard's own frames are trimmed
    (dependent,) = result.step("after")
    assert "upstream step 'explode' failed" in (dependent.error or "")
    assert store.get_run(result.run_id).status is RunStatus.FAILED
    step_run = store.get_run(failed.run_id or "")
    assert step_run.status is RunStatus.FAILED
    assert step_run.tags["runyard.error"].endswith("BadBatch: batch 3 is corrupt")
    (tb_ref,) = store.list_artifact_refs(step_run.run_id, "logs/traceback.txt")
    assert b"batch 3 is corrupt" in cas.get_bytes(tb_ref.digest)


def test_without_raising_the_result_carries_the_failure(where: dict[str, Any]) -> None:
    result = mixed.run(raise_on_failure=False, **where)
    assert result.status is RunStatus.FAILED
    assert result.value is None
    assert [s.label for s in result.failed] == ["explode", "after"]


@ry.step(retries=2, retry_delay=0.01)
def flaky(marker: str) -> str:
    path = Path(marker)
    tries = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(tries))
    if tries < 3:
        raise ConnectionError(f"try {tries} failed")
    return f"ok after {tries}"


def test_retries_back_off_and_then_succeed(tmp_path: Path, where: dict[str, Any]) -> None:
    @ry.pipeline
    def p(marker: str = ""):
        return flaky(marker)

    result = p.run(marker=str(tmp_path / "tries"), **where)
    assert result.value == "ok after 3"
    assert result.steps[0].attempts == 3


@ry.step(retries=1, retry_delay=0.01)
def dies_once(marker: str) -> str:
    path = Path(marker)
    if not path.exists():
        path.write_text("died")
        os.kill(os.getpid(), signal.SIGKILL)
    return "survived"


@ry.step(timeout="1s")
def sleepy(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_a_killed_worker_is_retried_on_a_fresh_one(tmp_path: Path, where: dict[str, Any]) -> None:
    @ry.pipeline
    def p(marker: str = ""):
        return dies_once(marker)

    result = p.run(marker=str(tmp_path / "m"), executor="process:1", **where)
    assert result.value == "survived"
    assert result.steps[0].attempts == 2


def test_a_step_past_its_timeout_is_stopped_and_fails(where: dict[str, Any]) -> None:
    @ry.pipeline
    def p(seconds: float = 120.0):
        return sleepy(seconds)

    with pytest.raises(PipelineFailed, match="TaskTimeout") as info:
        p.run(executor="process:1", **where)
    assert "ran past its timeout of 1s" in (info.value.result.steps[0].error or "")


def test_retry_delays_double() -> None:
    options = ry.step(retries=3, retry_delay="2s")(source).options
    assert [options.retry_delay_after(a) for a in (1, 2, 3)] == [2.0, 4.0, 8.0]
