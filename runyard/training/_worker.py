"""The function every training worker runs, on whatever executor launched it.

:func:`run_worker` joins the attempt's rendezvous, forms the process group (gloo on CPU, NCCL
on a GPU), seeds every RNG with the run's seed, runs the user's function with a
:class:`TrainContext`, and reports how it ended as a :class:`WorkerOutcome` — it never
raises, so that every executor carries a user's error the same way. A worker that dies
(SIGKILL, out of memory, node lost) sends nothing: its executor reports the loss.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import traceback
from datetime import timedelta
from typing import Any

from runyard.training._rendezvous import Watchdog, connect, publish_json
from runyard.training._spec import WorkerOutcome, WorkerSpec
from runyard.training._standby import take_over
from runyard.training.context import TrainContext

__all__ = ["run_worker"]


def run_worker(spec: WorkerSpec, keep: list[Any] | None = None) -> WorkerOutcome:
    """Run the user's training function as rank ``spec.rank``; never raises.

    Args:
        spec: the rank's orders.
        keep: where to park the context (and so the DDP model) instead of freeing it, for
            a process that exits with ``os._exit`` right after. Freeing a DDP model frees
            its gloo process group, whose destructor joins a thread that may need the GIL
            the freeing thread holds: a deadlock, now and then, at the very end of a run.
    """
    import torch
    import torch.distributed as dist

    take_over()
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, int(spec.cpus)))
    store = connect(spec.rendezvous)
    watchdog = Watchdog(spec.rendezvous)
    watchdog.start()
    publish_json(
        store,
        spec.rendezvous,
        f"worker/{spec.rank}",
        {"host": socket.gethostname(), "pid": os.getpid()},
    )
    device, backend = _device(spec)
    try:
        from torch.distributed import PrefixStore  # type: ignore[attr-defined]

        dist.init_process_group(
            backend,
            store=PrefixStore(spec.rendezvous.key("pg/"), store),
            rank=spec.rank,
            world_size=spec.world_size,
            timeout=timedelta(seconds=spec.collective_timeout_s),
        )
        _seed(spec.seed)
        ctx = TrainContext(spec, store, device)
        if keep is not None:
            keep.append(ctx)
        if spec.rank == 0:  # open the tracking store while the user's code sets up
            threading.Thread(target=ctx._open_run_early, daemon=True).start()
        spec.fn(ctx)
        ctx._close()
        outcome = WorkerOutcome(spec.rank, ok=True)
    except BaseException as e:  # noqa: BLE001 - every error goes back to the launcher
        outcome = _failure(spec.rank, e)
    finally:
        watchdog.stop()
    if dist.is_initialized():
        try:
            dist.destroy_process_group()
        except Exception:  # noqa: BLE001 - tearing down a broken group may fail; it is gone
            pass
    return outcome


def _device(spec: WorkerSpec) -> tuple[Any, str]:
    import torch

    if spec.gpus > 0 and torch.cuda.is_available():
        index = spec.local_rank % torch.cuda.device_count()
        torch.cuda.set_device(index)
        return torch.device("cuda", index), "nccl"
    return torch.device("cpu"), "gloo"


def _seed(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _is_communication_error(error: BaseException) -> bool:
    import torch.distributed as dist

    if isinstance(error, dist.DistError):
        return True
    text = str(error)
    markers = ("Connection closed by peer", "Connection reset by peer", "Gloo", "gloo", "NCCL")
    return isinstance(error, RuntimeError) and any(m in text for m in markers)


def _failure(rank: int, error: BaseException) -> WorkerOutcome:
    import cloudpickle  # type: ignore[import-untyped]

    try:
        cloudpickle.dumps(error)
        carried: BaseException | None = error
    except Exception:  # noqa: BLE001 - an exception that cannot travel goes as text
        carried = None
    return WorkerOutcome(
        rank,
        ok=False,
        error_type=f"{type(error).__module__}.{type(error).__qualname__}",
        message=str(error),
        traceback=traceback.format_exc(),
        communication=_is_communication_error(error),
        exception=carried,
    )
