"""The pieces a restart relies on: the sampler's order and checkpoint retention."""

from __future__ import annotations

import pytest

from runyard.entities import ArtifactRef
from runyard.errors import InvalidArgument
from runyard.tracking.client import Client
from runyard.training import CheckpointPolicy, CheckpointRef, ShardedSampler, train
from runyard.training.checkpoint import retain
from runyard.training.launch_ray import workers_that_fit
from tests.training.digits_loops import train_digits


def shards(n: int, world: int, seed: int, epoch: int, **kw: bool) -> list[list[int]]:
    return [list(ShardedSampler(n, r, world, seed=seed, epoch=epoch, **kw)) for r in range(world)]


def test_order_depends_only_on_seed_and_epoch() -> None:
    assert shards(100, 2, seed=7, epoch=3) == shards(100, 2, seed=7, epoch=3)
    assert shards(100, 2, seed=7, epoch=3) != shards(100, 2, seed=7, epoch=4)
    assert shards(100, 2, seed=7, epoch=3) != shards(100, 2, seed=8, epoch=3)


def test_ranks_split_the_data_evenly_and_together_cover_it() -> None:
    parts = shards(101, 4, seed=0, epoch=0)
    assert {len(p) for p in parts} == {26}
    assert set().union(*map(set, parts)) == set(range(101))
    dropped = shards(101, 4, seed=0, epoch=0, drop_last=True)
    assert {len(p) for p in dropped} == {25}
    assert len(set().union(*map(set, dropped))) == 100


def test_a_rank_outside_the_world_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="outside a world of 2"):
        ShardedSampler(10, rank=2, world_size=2)


def ckpt(epoch: int, acc: float) -> CheckpointRef:
    ref = ArtifactRef(f"checkpoints/epoch-{epoch:06d}.pt", "sha256:" + "0" * 64, 1, "mem://")
    return CheckpointRef(epoch, {"val_acc": acc}, ref, 0, 0)


def test_retention_keeps_the_last_k_and_the_best_k() -> None:
    history = [ckpt(0, 0.5), ckpt(1, 0.9), ckpt(2, 0.7), ckpt(3, 0.6), ckpt(4, 0.65)]
    policy = CheckpointPolicy(keep_last=2, keep_best=1, metric="val_acc", mode="max")
    assert [c.epoch for c in retain(history, policy)] == [1, 3, 4]
    best = policy.best(retain(history, policy))
    assert best is not None and best.epoch == 1
    lowest = CheckpointPolicy(keep_last=1, keep_best=2, metric="val_acc", mode="min")
    assert [c.epoch for c in retain(history, lowest)] == [0, 3, 4]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"keep_last": 0}, "keep_last must be at least 1"),
        ({"keep_best": 1}, "keep_best needs metric="),
        ({"mode": "best"}, "mode must be 'max' or 'min'"),
    ],
)
def test_a_bad_retention_policy_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        CheckpointPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": 0}, "workers must be an integer >= 1"),
        ({"max_restarts": -1}, "max_restarts must be an integer >= 0"),
        ({"gpus_per_worker": 1}, "no CUDA GPU"),
        ({"executor": "inline", "workers": 2}, "runs 1 task"),
        ({"config": [1, 2]}, "config must be a mapping"),
        ({"executor": "dask"}, "unknown executor 'dask'"),
        ({"workers": 2, "min_workers": 3}, "min_workers must be an integer from 1 to workers"),
        ({"workers": 2, "min_workers": 0}, "min_workers must be an integer from 1 to workers"),
        ({"placement_timeout": 0}, "placement_timeout must be positive"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_recorded(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        train(train_digits, experiment="never", **kwargs)  # type: ignore[arg-type]
    assert all(e.name != "never" for e in Client().list_experiments())


def test_elastic_sizing_counts_only_what_alive_nodes_can_host() -> None:
    nodes = [
        {"Alive": True, "Resources": {"CPU": 4.0, "GPU": 1.0}},
        {"Alive": True, "Resources": {"CPU": 1.0}},
        {"Alive": False, "Resources": {"CPU": 8.0, "GPU": 4.0}},  # a lost node
    ]
    assert workers_that_fit(nodes, cpus=1, gpus=0) == 5
    assert workers_that_fit(nodes, cpus=2, gpus=0) == 2
    assert workers_that_fit(nodes, cpus=1, gpus=1) == 1
    assert workers_that_fit(nodes, cpus=0.5, gpus=0.5) == 2


def test_a_changed_world_size_still_visits_every_example_once_per_epoch() -> None:
    """After an elastic restart on fewer workers, the resumed epoch neither skips nor repeats."""
    before = shards(101, 2, seed=3, epoch=5)
    after = shards(101, 1, seed=3, epoch=5)
    assert sorted(after[0]) == list(range(101))
    # the same global order, sharded over the new world
    assert after[0] == ShardedSampler(101, 0, 1, seed=3, epoch=5).order()
    assert set(before[0]) | set(before[1]) == set(after[0])
