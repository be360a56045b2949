"""A user's story: a worker dies mid-run, the run carries on and ends as if nothing happened."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from typing import Any

import pytest
import torch

from runyard.entities import RunStatus
from runyard.errors import UserCodeError
from runyard.executors import WorkerLost
from runyard.tracking.client import Client
from runyard.training import TrainResult, load_checkpoint, train
from runyard.training._faults import FAULT_ENV
from tests.training.conftest import CONFIG, final_weights
from tests.training.digits_loops import train_digits

pytestmark = pytest.mark.slow  # every test here trains on real worker processes


def same_weights(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sigkilled_worker_restarts_from_last_checkpoint_with_bitwise_identical_weights(
    reference: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAULT_ENV, "rank=1,epoch=2,attempt=0,at=batch")
    result = train(train_digits, config=CONFIG, workers=2, experiment="digits", max_restarts=2)

    assert result.status is RunStatus.FINISHED
    assert same_weights(final_weights(result), reference["weights"])
    assert result.metrics["val_acc"] == reference["metrics"]["val_acc"]
    (restart,) = result.restarts
    assert restart.attempt == 1
    assert "rank 1" in restart.cause and "SIGKILL" in restart.cause
    assert restart.resumed_from_epoch == 1

    run = Client().get_run(result.run_id)
    assert run.status is RunStatus.FINISHED
    assert run.tags["runyard.train.restarts"] == "1"
    recorded = json.loads(run.tags["runyard.train.restart.1"])
    assert recorded["resumed_from_epoch"] == 1 and "SIGKILL" in recorded["cause"]
    # the epochs after the resume were written by the second attempt
    assert [c.attempt for c in result.checkpoints] == [1, 1]
    assert [c.epoch for c in result.checkpoints] == [2, 3]


def test_metrics_are_the_mean_over_ranks_or_rank_zeros_by_choice(
    reference: dict[str, Any],
) -> None:
    assert reference["metrics"]["rank_mean"] == 0.5
    assert reference["metrics"]["rank_of_rank0"] == 0.0


def test_worker_killed_from_outside_is_replaced_and_the_run_finishes(
    reference: dict[str, Any],
) -> None:
    outcome: dict[str, TrainResult | BaseException] = {}
    config = {**CONFIG, "epochs": 6}

    def run() -> None:
        try:
            outcome["result"] = train(train_digits, config=config, workers=2, experiment="ext")
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            outcome["error"] = e

    thread = threading.Thread(target=run)
    thread.start()
    client = Client()
    killed = None
    deadline = time.monotonic() + 300
    while killed is None and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.05)
        runs = client.search_runs("ext").items if _has_experiment(client, "ext") else []
        if not runs or "runyard.train.workers" not in runs[0].tags:
            continue
        if "loss" not in runs[0].metrics:  # wait for a first checkpointed epoch
            continue
        killed = json.loads(runs[0].tags["runyard.train.workers"])[1]["pid"]
        os.kill(killed, signal.SIGKILL)
    thread.join(timeout=300)

    assert killed is not None and not thread.is_alive()
    result = outcome["result"]
    assert isinstance(result, TrainResult)
    assert result.status is RunStatus.FINISHED
    assert len(result.restarts) == 1 and f"pid {killed}" in result.restarts[0].cause
    # killed at an unknown point, still deterministic: compare with an uninterrupted run
    uninterrupted = train(train_digits, config=config, workers=2, experiment="ext-ref")
    assert same_weights(final_weights(result), final_weights(uninterrupted))


def _has_experiment(client: Client, name: str) -> bool:
    return any(e.name == name for e in client.list_experiments())


def test_user_exception_fails_the_run_with_its_traceback_and_is_not_retried() -> None:
    config = {**CONFIG, "raise_at": [1, 1]}
    with pytest.raises(UserCodeError) as info:
        train(train_digits, config=config, workers=2, experiment="buggy", max_restarts=3)

    error = info.value
    assert isinstance(error.original, ValueError)
    assert "bad batch statistics at epoch 1" in str(error)
    assert "train_digits" in str(error.original.__cause__)  # the worker's traceback
    client = Client()
    (run,) = client.search_runs("buggy").items
    assert run.status is RunStatus.FAILED
    assert "runyard.train.restart.1" not in run.tags
    assert "ValueError" in run.tags["runyard.error"]
    text = client.read_artifact(run.run_id, "training/error.txt").decode()
    assert "raise ValueError" in text and "digits_loops.py" in text


def test_a_worker_that_keeps_dying_fails_the_run_after_max_restarts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(FAULT_ENV, "rank=1,epoch=0,attempt=*")
    with pytest.raises(WorkerLost, match="after 1 restart"):
        train(train_digits, config=CONFIG, workers=2, experiment="doomed", max_restarts=1)

    (run,) = Client().search_runs("doomed").items
    assert run.status is RunStatus.FAILED
    assert run.tags["runyard.train.restarts"] == "1"
    assert json.loads(run.tags["runyard.train.restart.1"])["resumed_from_epoch"] is None


def test_kill_between_checkpoint_write_and_commit_leaves_the_previous_checkpoint(
    reference: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAULT_ENV, "rank=0,epoch=2,attempt=0,at=checkpoint")
    result = train(train_digits, config=CONFIG, workers=2, experiment="torn")

    (restart,) = result.restarts
    assert restart.resumed_from_epoch == 1  # epoch 2's blob was written, never recorded
    for ckpt in result.checkpoints:  # every recorded checkpoint is whole (digest-verified)
        assert load_checkpoint(ckpt)["epoch"] == ckpt.epoch
    assert same_weights(final_weights(result), reference["weights"])
