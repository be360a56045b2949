"""The same training function on Ray workers: a local Ray on loopback (127.0.0.2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from runyard.entities import RunStatus
from runyard.training import train
from runyard.training._faults import FAULT_ENV
from tests.training import digits_loops
from tests.training.conftest import CONFIG, final_weights

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    import cloudpickle

    cloudpickle.register_pickle_by_value(digits_loops)
    # The Ray tests' session cluster may hold this process's connection; step out of it
    # for a local Ray with the fault hook in its runtime env, and step back in afterwards.
    previous = ray.get_runtime_context().gcs_address if ray.is_initialized() else None
    if previous is not None:
        ray.shutdown()
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.2",
        runtime_env={"env_vars": {FAULT_ENV: "rank=1,epoch=2,attempt=0,at=batch"}},
    )
    try:
        yield
    finally:
        ray.shutdown()
        cloudpickle.unregister_pickle_by_value(digits_loops)
        if previous is not None:
            ray.init(
                address=previous,
                _node_ip_address="127.0.0.2",
                include_dashboard=False,
                configure_logging=False,
                log_to_driver=False,
            )


def test_a_ray_worker_killed_mid_epoch_restarts_with_identical_weights(
    local_ray: None, reference: dict[str, Any]
) -> None:
    result = train(
        digits_loops.train_digits, config=CONFIG, workers=2, executor="ray", experiment="ray"
    )
    assert result.status is RunStatus.FINISHED
    (restart,) = result.restarts
    assert restart.resumed_from_epoch == 1
    weights = final_weights(result)
    assert all(bool((weights[k] == reference["weights"][k]).all()) for k in weights)
