"""Dynamic batching merges concurrent requests and keeps each answer with its request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from runyard.errors import UserCodeError
from runyard.serving.batching import BatchConfig, BatcherClosed, DynamicBatcher


def test_concurrent_requests_are_merged_and_split_back() -> None:
    gate = threading.Event()
    seen: list[int] = []

    def predict(x: dict[str, Any]) -> dict[str, Any]:
        gate.wait(5)
        return {"y": x["x"] * 10}

    batcher = DynamicBatcher(
        predict,
        BatchConfig(max_batch_size=64, max_queue_delay=0.05),
        lambda rows, _q: seen.append(rows),
    )
    futures = [batcher.submit({"x": np.full((2, 3), i, np.float32)}) for i in range(9)]
    time.sleep(0.2)  # the first batch blocks on the gate while the others queue
    gate.set()
    for i, f in enumerate(futures):
        np.testing.assert_array_equal(f.result(5)["y"], np.full((2, 3), i * 10))
    batcher.close()
    assert sum(seen) == 18 and max(seen) > 2  # several requests ran as one batch


def test_max_batch_size_one_never_merges() -> None:
    seen: list[int] = []
    batcher = DynamicBatcher(
        lambda x: {"y": x["x"]}, BatchConfig(max_batch_size=1), lambda rows, _q: seen.append(rows)
    )
    futures = [batcher.submit({"x": np.ones((1, 2))}) for _ in range(20)]
    assert all(f.result(5)["y"].shape == (1, 2) for f in futures)
    batcher.close()
    assert seen == [1] * 20


def test_a_failing_batch_fails_only_its_requests_and_closed_refuses() -> None:
    def predict(x: dict[str, Any]) -> dict[str, Any]:
        if (x["x"] < 0).any():
            raise ValueError("negative input")
        return {"y": x["x"]}

    batcher = DynamicBatcher(predict, BatchConfig(max_batch_size=1))
    bad = batcher.submit({"x": -np.ones((1, 2))})
    good = batcher.submit({"x": np.ones((1, 2))})
    with pytest.raises(UserCodeError, match="negative input"):
        bad.result(5)
    assert good.result(5)["y"].shape == (1, 2)
    batcher.close()
    with pytest.raises(BatcherClosed):
        batcher.submit({"x": np.ones((1, 2))})


def test_requests_of_different_shapes_are_not_merged() -> None:
    gate = threading.Event()

    def predict(x: dict[str, Any]) -> dict[str, Any]:
        gate.wait(5)
        return {"y": x["x"].sum(axis=1)}

    batcher = DynamicBatcher(predict, BatchConfig(max_batch_size=64, max_queue_delay=0.05))
    a = [batcher.submit({"x": np.ones((1, 3))}) for _ in range(3)]
    b = [batcher.submit({"x": np.ones((1, 5))}) for _ in range(3)]
    gate.set()
    assert [f.result(5)["y"][0] for f in a + b] == [3, 3, 3, 5, 5, 5]
    batcher.close()


def test_the_queue_delay_is_not_added_when_requests_come_alone() -> None:
    """A lone request on an idle server runs at once, however long the configured delay."""
    batcher = DynamicBatcher(lambda x: {"y": x["x"]}, BatchConfig(64, max_queue_delay=30.0))
    assert batcher.submit({"x": np.ones((1, 2))}).result(10)["y"].shape == (1, 2)
    batcher.close()


def test_async_submit_answers_on_the_event_loop() -> None:
    import asyncio

    seen: list[int] = []
    batcher = DynamicBatcher(
        lambda x: {"y": x["x"] + 1}, BatchConfig(64), lambda rows, _q: seen.append(rows)
    )

    async def main() -> list[float]:
        futures = [batcher.submit_async({"x": np.full((1, 1), i, np.float32)}) for i in range(50)]
        return [float((await f)["y"][0, 0]) for f in futures]

    assert asyncio.run(main()) == [i + 1.0 for i in range(50)]
    batcher.close()
    assert sum(seen) == 50


@pytest.mark.parametrize("inline", [True, False], ids=["on-the-loop", "worker-thread"])
def test_callback_requests_are_answered_on_the_loop_and_batched(inline: bool) -> None:
    import asyncio

    seen: list[int] = []
    batcher = DynamicBatcher(
        lambda x: {"y": x["x"] * 2},
        BatchConfig(64),
        lambda rows, _q: seen.append(rows),
        inline=inline,
    )

    async def main() -> tuple[list[float], set[int]]:
        done = asyncio.get_running_loop().create_future()
        answers: dict[int, float] = {}
        threads: set[int] = set()

        def answer_for(i: int) -> Callable[[Any], None]:
            def answer(out: Any) -> None:
                answers[i] = float(out["y"][0, 0])
                threads.add(threading.get_ident())
                if len(answers) == 20:
                    done.set_result(None)

            return answer

        for i in range(20):
            batcher.submit_callback({"x": np.full((1, 1), i, np.float32)}, answer_for(i))
        await asyncio.wait_for(done, 10)
        return [answers[i] for i in range(20)], threads

    values, threads = asyncio.run(main())
    batcher.close()
    assert values == [i * 2.0 for i in range(20)]
    assert threads == {threading.get_ident()}  # every answer ran on the event loop's thread
    assert sum(seen) == 20
    if inline:
        assert seen == [20]  # the requests of one turn of the loop ran as one batch


@pytest.mark.parametrize("inline", [True, False], ids=["on-the-loop", "worker-thread"])
def test_a_lone_request_on_an_idle_model_does_not_wait_the_queue_delay(inline: bool) -> None:
    import asyncio

    batcher = DynamicBatcher(lambda x: {"y": x["x"]}, BatchConfig(64, 30.0), inline=inline)

    async def main() -> Any:
        answer = asyncio.get_running_loop().create_future()
        batcher.submit_callback({"x": np.ones((1, 2))}, answer.set_result)
        return await asyncio.wait_for(answer, 10)  # far less than the 30 s delay

    assert asyncio.run(main())["y"].shape == (1, 2)
    batcher.close()
