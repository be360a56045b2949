"""Packing calls into chunks, without a cluster: the adaptive size, the worker loop, the default."""

from __future__ import annotations

import pytest

from runyard.executors import InlineExecutor, ProcessExecutor
from runyard.executors._chunking import MAX_CHUNK, ChunkSizer, run_chunk


def _half(x: int) -> float:
    if x == 3:
        raise ValueError("three is odd here")
    return x / 2


def test_a_chunk_starts_at_one_call_and_grows_while_calls_are_fast() -> None:
    sizer = ChunkSizer(target_s=0.05)
    assert sizer.next_size(remaining=10_000, workers=2) == 1
    sizer.observe(calls=8, seconds=8 * 0.0001)  # 0.1 ms a call
    assert sizer.next_size(remaining=10_000, workers=2) == 500
    for _ in range(4):  # 10 µs a call: as many as a chunk may carry
        sizer.observe(calls=500, seconds=500 * 0.00001)
    assert sizer.next_size(remaining=100_000, workers=2) == MAX_CHUNK


def test_slow_calls_always_get_a_task_each() -> None:
    sizer = ChunkSizer(target_s=0.05)
    sizer.observe(calls=1, seconds=4.0)
    assert sizer.next_size(remaining=1000, workers=2) == 1


def test_the_end_of_a_fan_out_is_spread_over_every_worker() -> None:
    sizer = ChunkSizer(target_s=0.05)
    sizer.observe(calls=100, seconds=0.001)
    assert sizer.next_size(remaining=40, workers=4) == 5


def test_a_cold_first_call_is_forgotten_quickly() -> None:
    sizer = ChunkSizer(target_s=0.05)
    sizer.observe(calls=1, seconds=2.0)  # imports on a fresh worker
    for _ in range(12):
        sizer.observe(calls=1, seconds=0.0001)
    assert sizer.next_size(remaining=10_000, workers=2) > 50


def test_bad_sizer_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="target_s"):
        ChunkSizer(target_s=0)


def test_a_failing_call_fails_alone_and_the_rest_of_its_chunk_runs() -> None:
    outcomes = list(run_chunk(_half, [((x,), {}) for x in range(6)]))
    assert [o[0] for o in outcomes] == [True, True, True, False, True, True]
    assert [o[1] for o in outcomes if o[0]] == [0, 0.5, 1, 2, 2.5]
    error = outcomes[3][1]
    assert isinstance(error, ValueError) and "three is odd" in str(error)
    assert "ValueError: three is odd here" in outcomes[3][2]


def test_outcomes_wait_for_the_commit_and_a_failed_commit_fails_them() -> None:
    log: list[str] = []

    def work(x: int) -> int:
        log.append(f"call {x}")
        return x

    def commit() -> None:
        log.append("commit")

    outcomes = run_chunk(work, [((x,), {}) for x in range(3)], commit)
    first = next(outcomes)
    assert first[:2] == (True, 0)
    assert log == ["call 0", "call 1", "call 2", "commit"]  # fast calls: one commit
    assert [o[1] for o in outcomes] == [1, 2]

    def broken() -> None:
        raise OSError("disk full")

    failed = list(run_chunk(work, [((x,), {}) for x in range(2)], broken))
    assert [o[0] for o in failed] == [False, False]
    assert all(isinstance(o[1], OSError) for o in failed)


@pytest.mark.parametrize("make", [InlineExecutor, lambda: ProcessExecutor(max_workers=2)])
def test_the_default_submit_many_gives_each_call_its_own_future(make: object) -> None:
    with make() as ex:  # type: ignore[operator]
        assert not ex.batches_tasks
        futures = ex.submit_many(_half, [((x,), {}) for x in range(5)])
        assert [f.result() for f in futures[:3]] == [0, 0.5, 1]
        with pytest.raises(ValueError, match="three is odd"):
            futures[3].result()
        assert futures[4].result() == 2


def test_the_default_submit_many_commits_after_each_call() -> None:
    committed: list[int] = []
    with InlineExecutor() as ex:
        futures = ex.submit_many(
            _half, [((x,), {}) for x in (2, 4)], commit=lambda: committed.append(1)
        )
        assert [f.result() for f in futures] == [1, 2]
    assert committed == [1, 1]
