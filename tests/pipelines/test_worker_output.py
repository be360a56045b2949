"""On isolated executors the worker stores a step's output itself, and says where it ran."""

from __future__ import annotations

import os
from pathlib import Path

import runyard as ry
from runyard.artifacts import open_cas
from runyard.pipelines._task import OutputTarget, run_step_call


def make_table(n: int) -> dict[str, list[int]]:
    return {"x": list(range(n))}


def test_the_worker_writes_the_output_before_it_reports(tmp_path: Path) -> None:
    target = OutputTarget(str(tmp_path / "cas"), None, "make_table", "make_table")
    outcome = run_step_call(make_table, {"n": 3}, True, target)
    assert outcome.ok and outcome.value == {"x": [0, 1, 2]}
    assert outcome.stored is not None
    name, ref = outcome.stored
    # the blob is already durable in the store, readable by anyone with its digest
    assert open_cas(str(tmp_path / "cas")).has(ref.digest)
    assert ref.path.startswith("outputs/make_table.")
    assert outcome.worker.endswith(f":{os.getpid()}")


def test_an_unstorable_output_is_reported_not_raised(tmp_path: Path) -> None:
    target = OutputTarget(str(tmp_path / "cas"), "json", "gen", "gen")
    outcome = run_step_call(lambda: object(), {}, True, target)
    assert outcome.ok and outcome.stored is None
    assert outcome.unstorable and "cannot be stored" in outcome.unstorable


@ry.step
def double(x: int) -> int:
    return 2 * x


@ry.step
def upto(n: int) -> list[int]:
    return list(range(n))


@ry.pipeline
def doubles(n: int = 3) -> list[int]:
    return double.map(x=upto(n))


def test_process_pool_steps_record_their_worker_and_match_inline() -> None:
    on_pool = doubles.run(n=4, executor="process", cache=False)
    inline = doubles.run(n=4, executor="inline", cache=False)
    assert on_pool.value == inline.value == [0, 2, 4, 6]
    workers = {s.worker for s in on_pool.steps if s.node_id.startswith("double")}
    assert workers and all(w and not w.endswith(f":{os.getpid()}") for w in workers)
    run = ry.Client().get_run(next(s.run_id for s in on_pool.steps if s.run_id))
    assert run.tags["runyard.worker"] in {s.worker for s in on_pool.steps}

    # outputs are identical bytes whichever process stored them
    def digests(result: ry.PipelineResult) -> list[tuple[int, str | None]]:
        return sorted(
            (s.index or 0, s.output_digest) for s in result.steps if s.node_id == "double"
        )

    assert digests(on_pool) == digests(inline)
    assert len(digests(on_pool)) == 4
