"""A Ray node stopped mid-run: training resumes on the node that is left.

A real 2-node Ray cluster on loopback (tests/ray/cluster.py): the head (127.0.0.2) and a
second node each have one CPU, so the two workers of a 1-CPU-per-worker run land one on
each node; the second node is then stopped (SIGTERM to its processes, SIGKILL to what is
left) in the middle of an epoch.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runyard.entities import RunStatus
from runyard.tracking.client import Client
from runyard.training import NotEnoughWorkers, TrainProgress, load_checkpoint, train
from tests.ray.cluster import RayCluster, RayNode, connect, free_port
from tests.training import digits_loops
from tests.training.conftest import CONFIG

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

ELASTIC_CONFIG = {**CONFIG, "epochs": 6, "batch_sleep": 0.02}


@pytest.fixture(scope="module")
def two_cpu_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    """A head with one CPU; each test adds (and stops) a second one-CPU node."""
    import cloudpickle

    previous = ray.get_runtime_context().gcs_address if ray.is_initialized() else None
    if previous is not None:  # step out of the Ray tests' session cluster, back in at the end
        ray.shutdown()
    mp = pytest.MonkeyPatch()
    mp.setenv("RAY_AUTH_MODE", "disabled")
    # declare a stopped node dead within seconds (Ray's default is about half a minute)
    mp.setenv("RAY_health_check_period_ms", "500")
    mp.setenv("RAY_health_check_timeout_ms", "1000")
    mp.setenv("RAY_health_check_failure_threshold", "4")
    mp.setenv("GLOO_SOCKET_IFNAME", "lo")  # the workers' gloo traffic stays on loopback
    tmp: Path = tmp_path_factory.mktemp("rye")  # short: Ray socket paths have a limit
    cluster = RayCluster(port=free_port(), tmp=tmp)
    cluster.start_head(num_cpus=1)
    cloudpickle.register_pickle_by_value(digits_loops)
    try:
        connect(cluster.address)
        cluster.wait_for_nodes(1)
        yield cluster
    finally:
        ray.shutdown()
        cluster.stop()
        cloudpickle.unregister_pickle_by_value(digits_loops)
        mp.undo()
        if previous is not None:
            connect(previous)


def stop_after_first_checkpoint(
    node: RayNode,
) -> tuple[threading.Thread, Callable[[TrainProgress], None]]:
    """An on_progress callback that stops ``node`` once epoch 0 is checkpointed."""
    stopper = threading.Thread(target=node.stop, name="stop-node")

    def on_progress(progress: TrainProgress) -> None:
        if progress.attempt == 0 and progress.checkpoints >= 1 and not stopper.is_alive():
            if stopper.ident is None:
                stopper.start()

    return stopper, on_progress


def test_a_stopped_node_resumes_on_the_surviving_node_with_fewer_workers(
    two_cpu_cluster: RayCluster,
) -> None:
    node = two_cpu_cluster.add_node(num_cpus=1)
    two_cpu_cluster.wait_for_nodes(2)
    stopper, on_progress = stop_after_first_checkpoint(node)

    result = train(
        digits_loops.train_digits,
        config=ELASTIC_CONFIG,
        workers=2,
        min_workers=1,
        executor="ray",
        max_restarts=2,
        placement_timeout=60,
        experiment="elastic",
        on_progress=on_progress,
    )
    stopper.join(timeout=60)

    assert stopper.ident is not None, "the second node was never stopped"
    assert result.status is RunStatus.FINISHED
    (restart,) = result.restarts
    assert restart.world_size == 1
    assert restart.resumed_from_epoch is not None and restart.resumed_from_epoch >= 0
    assert restart.time_ms > 0 and restart.cause
    run = Client().get_run(result.run_id)
    assert run.status is RunStatus.FINISHED
    recorded = json.loads(run.tags["runyard.train.restart.1"])
    assert recorded["world_size"] == 1
    assert recorded["resumed_from_epoch"] == restart.resumed_from_epoch
    assert run.tags["runyard.train.world_size"] == "1"
    assert run.metrics["val_acc"].count == ELASTIC_CONFIG["epochs"]
    assert result.metrics["val_acc"] > 0.5
    # the last checkpoint was written by the one-worker attempt, and is whole
    assert result.checkpoint is not None
    assert result.checkpoint.epoch == ELASTIC_CONFIG["epochs"] - 1
    assert result.checkpoint.attempt == 1
    saved = load_checkpoint(result.checkpoint)
    assert saved["sampler"]["world_size"] == 1 and len(saved["rng"]) == 1


def test_without_elastic_sizes_a_lost_node_fails_the_run_with_a_clear_error(
    two_cpu_cluster: RayCluster,
) -> None:
    node = two_cpu_cluster.add_node(num_cpus=1)
    two_cpu_cluster.wait_for_nodes(2)
    stopper, on_progress = stop_after_first_checkpoint(node)

    with pytest.raises(NotEnoughWorkers, match="min_workers=2") as info:
        train(
            digits_loops.train_digits,
            config=ELASTIC_CONFIG,
            workers=2,
            executor="ray",
            max_restarts=2,
            placement_timeout=5,
            experiment="rigid",
            on_progress=on_progress,
        )
    stopper.join(timeout=60)

    assert "room for 1 worker" in str(info.value)
    (run,) = Client().search_runs("rigid").items
    assert run.status is RunStatus.FAILED
    assert "min_workers=2" in run.tags["runyard.error"]
    assert "runyard.train.restart.1" not in run.tags  # it never restarted on fewer workers
