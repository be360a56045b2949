"""``ry.train``: data-parallel PyTorch training on N workers, tracked, checkpointed, restarted."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from runyard.errors import InvalidArgument, MissingDependency
from runyard.executors import Executor
from runyard.training.checkpoint import CheckpointPolicy
from runyard.training.context import TrainContext
from runyard.training.result import TrainProgress, TrainResult
from runyard.training.supervisor import Launcher, Supervisor

__all__ = ["train"]


def train(
    fn: Callable[[TrainContext], Any],
    *,
    config: Mapping[str, Any] | None = None,
    workers: int = 1,
    min_workers: int | None = None,
    executor: str | Executor | None = "process",
    gpus_per_worker: float = 0,
    cpus_per_worker: float = 1,
    max_restarts: int = 3,
    experiment: str | None = None,
    run_name: str | None = None,
    seed: int = 0,
    checkpoints: CheckpointPolicy | None = None,
    retry_user_errors: bool = False,
    collective_timeout: float = 300.0,
    placement_timeout: float = 60.0,
    tracking_uri: str | None = None,
    artifact_uri: str | None = None,
    on_progress: Callable[[TrainProgress], None] | None = None,
) -> TrainResult:
    """Run ``fn(ctx)`` on ``workers`` data-parallel workers as one tracked run.

    A worker that dies (SIGKILL, out of memory, a node lost) stops the whole group at once;
    the group restarts from the last checkpoint, up to ``max_restarts`` times, and the run
    records each restart. An exception in ``fn`` fails the run with its traceback and is not
    retried unless ``retry_user_errors``.

    Args:
        fn: the training function; it gets a :class:`TrainContext`. Must be picklable by
            cloudpickle (module-level, ``__main__`` or a closure all work).
        config: the function's config (``ctx.config``), logged as the run's params.
        workers: the number of workers (the world size).
        min_workers: allow elastic sizes: a start or restart that finds room for fewer than
            ``workers`` (a node was lost) trains on as many as fit, down to
            ``min_workers``. None (the default) means exactly ``workers``. Local processes
            always get all ``workers``; on Ray, see docs/training.md.
        executor: ``"process"`` (local processes, gloo / NCCL), ``"ray"`` or
            ``"ray:ADDRESS"`` (Ray workers), or an :class:`Executor` that runs the workers.
        gpus_per_worker: GPUs per worker; 0 trains on CPU with gloo.
        cpus_per_worker: CPU threads per worker (torch's intra-op threads).
        max_restarts: restarts allowed after lost workers.
        experiment: the experiment's name (created when missing).
        run_name: the run's name.
        seed: seeds every RNG on every rank, and the sampler's order.
        checkpoints: retention (default: keep the last 2).
        retry_user_errors: also restart after an exception in ``fn``.
        collective_timeout: seconds a collective or the rendezvous waits for a peer.
        placement_timeout: seconds a start or restart waits for the cluster to have room for
            ``min_workers`` workers before the run fails with :class:`NotEnoughWorkers`.
        tracking_uri: the tracking store (default from the environment).
        artifact_uri: where checkpoints go (default from the environment).
        on_progress: called in this process with each new :class:`TrainProgress`.

    Returns:
        The FINISHED run's id, last metrics, checkpoints and restarts.

    Raises:
        InvalidArgument: bad arguments; nothing was started.
        UserCodeError: ``fn`` raised; the run is FAILED, the user's traceback is kept.
        WorkerLost: workers kept dying after ``max_restarts`` restarts; the run is FAILED.
        NotEnoughWorkers: (a ``WorkerLost``) the cluster had no room for ``min_workers``
            workers within ``placement_timeout``; the run is FAILED.

    Example:
        >>> import runyard as ry
        >>> result = ry.train(  # doctest: +SKIP
        ...     train_loop, config={"lr": 0.05, "epochs": 10}, workers=2, max_restarts=3,
        ...     experiment="digits",
        ... )
        >>> result.run_id, result.metrics["val_acc"], result.checkpoint.epoch  # doctest: +SKIP
        >>> ry.train(train_loop, workers=4, min_workers=2, executor="ray")  # doctest: +SKIP
    """
    if not callable(fn):
        raise InvalidArgument(f"train needs a function, got {type(fn).__name__}")
    for name, value, least in (("workers", workers, 1), ("max_restarts", max_restarts, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InvalidArgument(f"{name} must be an integer >= {least}, got {value!r}")
    if gpus_per_worker < 0 or cpus_per_worker <= 0:
        raise InvalidArgument("gpus_per_worker must be >= 0 and cpus_per_worker > 0")
    if not collective_timeout > 0:
        raise InvalidArgument(f"collective_timeout must be positive, got {collective_timeout}")
    if not placement_timeout > 0:
        raise InvalidArgument(f"placement_timeout must be positive, got {placement_timeout}")
    fewest = workers if min_workers is None else min_workers
    if isinstance(fewest, bool) or not isinstance(fewest, int) or not 1 <= fewest <= workers:
        raise InvalidArgument(
            f"min_workers must be an integer from 1 to workers ({workers}), got {min_workers!r}"
        )
    if config is not None and not isinstance(config, Mapping):
        raise InvalidArgument(f"config must be a mapping, got {type(config).__name__}")
    launcher = _launcher(executor, gpus_per_worker)
    launcher.check(workers, fewest)
    module = getattr(fn, "__module__", None)
    launcher.prepare(workers, [module] if module and module != "__main__" else [])

    from runyard.config import resolve_tracking_uri
    from runyard.tracking.client import Client, start_run

    client = Client(tracking_uri, artifact_uri)
    resolved_tracking = resolve_tracking_uri(tracking_uri)
    resolved_artifacts = client.artifact_uri
    plain_config = dict(config or {})
    run = start_run(
        experiment,
        name=run_name,
        params=plain_config,
        tags={
            "runyard.train.workers_count": workers,
            "runyard.train.min_workers": fewest,
            "runyard.train.launcher": launcher.describe(workers),
            "runyard.train.seed": seed,
            "runyard.train.max_restarts": max_restarts,
            "runyard.train.gpus_per_worker": gpus_per_worker,
        },
        tracking_uri=resolved_tracking,
        artifact_uri=resolved_artifacts,
    )
    supervisor = Supervisor(
        fn,
        plain_config,
        run,
        client.artifacts,
        launcher,
        workers=workers,
        min_workers=fewest,
        placement_timeout_s=placement_timeout,
        max_restarts=max_restarts,
        retry_user_errors=retry_user_errors,
        policy=checkpoints or CheckpointPolicy(),
        seed=seed,
        cpus=cpus_per_worker,
        gpus=gpus_per_worker,
        collective_timeout_s=collective_timeout,
        on_progress=on_progress,
        tracking_uri=resolved_tracking,
        artifact_uri=resolved_artifacts,
    )
    return supervisor.run()


def _launcher(executor: str | Executor | None, gpus: float) -> Launcher:
    kind = executor.partition(":")[0].strip().lower() if isinstance(executor, str) else ""
    if isinstance(executor, str) and kind == "ray":
        try:
            importlib.import_module("ray")
        except ImportError as e:
            raise MissingDependency("ray", "ray") from e
        try:
            module = importlib.import_module("runyard.training.launch_ray")
        except ModuleNotFoundError as e:
            if e.name != "runyard.training.launch_ray":
                raise
            raise InvalidArgument(
                "training on Ray is not part of this runyard build yet; use executor='process'"
            ) from e
        ray_launcher: Launcher = module.RayLauncher(address=executor.partition(":")[2] or None)
        return ray_launcher
    from runyard.training.launch_local import LocalLauncher

    if gpus > 0:
        import torch

        if not torch.cuda.is_available():
            raise InvalidArgument(
                f"gpus_per_worker={gpus:g} but this machine has no CUDA GPU; use 0 to train "
                "on CPU (gloo), or executor='ray' for a cluster with GPUs"
            )
    if kind == "process" or executor is None:
        return LocalLauncher(None)
    from runyard.executors import get_executor

    return LocalLauncher(get_executor(executor))
