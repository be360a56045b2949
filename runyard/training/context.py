"""``TrainContext``: what the user's training function receives on every worker."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from runyard._internal.limits import check_metric_value
from runyard.errors import InvalidArgument
from runyard.training._faults import FaultPlan, maybe_die
from runyard.training._rendezvous import publish_json
from runyard.training._spec import WorkerSpec
from runyard.training.checkpoint import (
    capture_rng,
    decode_checkpoint,
    encode_checkpoint,
    restore_rng,
    save_checkpoint,
)
from runyard.training.result import CheckpointRef, TrainState
from runyard.training.sampler import ShardedSampler

if TYPE_CHECKING:
    from runyard.artifacts.cas import ContentAddressedStore
    from runyard.tracking.client import Run

__all__ = ["TrainContext"]

Reduce = Literal["mean", "rank0"]


class TrainContext:
    """The handle a training function gets on each worker.

    It places and wraps the model (:meth:`prepare`), shards the data (:meth:`loader`), logs
    metrics and saves checkpoints (:meth:`report`) and loads the last checkpoint after a
    restart (:meth:`restore`). Built by the launcher; users never construct one.

    Attributes:
        rank: this worker's global rank.
        world_size: how many workers train together.
        local_rank: this worker's rank among the workers of its machine.
        device: where tensors go (``cpu`` or ``cuda:N``).
        config: the ``config=`` passed to :func:`runyard.train` (read-only).
        seed: the run's seed (the sampler's order depends only on it and the epoch).
        attempt: 0 on the first attempt, ``n`` after ``n`` restarts.
        run_id: the tracked run.

    Example:
        >>> def train_loop(ctx):  # doctest: +SKIP
        ...     model = ctx.prepare(build_model(ctx.config))
        ...     opt = torch.optim.SGD(model.parameters(), lr=ctx.config["lr"])
        ...     state = ctx.restore(model=model, optimizer=opt)
        ...     for epoch in range(state.epoch + 1 if state else 0, ctx.config["epochs"]):
        ...         for x, y in ctx.loader(train_set, batch_size=64, epoch=epoch):
        ...             ...
        ...         ctx.report({"loss": loss}, step=epoch, checkpoint=True)
    """

    def __init__(self, spec: WorkerSpec, store: Any, device: Any) -> None:
        self._spec = spec
        self._store = store
        self.rank = spec.rank
        self.world_size = spec.world_size
        self.local_rank = spec.local_rank
        self.device = device
        self.config: Mapping[str, Any] = MappingProxyType(dict(spec.config))
        self.seed = spec.seed
        self.attempt = spec.attempt
        self.run_id = spec.run_id
        self._model: Any = None
        self._optimizer: Any = None
        self._objects: dict[str, Any] = {}
        self._epoch: int | None = None
        self._index: list[CheckpointRef] = list(spec.index)
        self._run: Run | None = None
        self._cas: ContentAddressedStore | None = None
        self._fault = FaultPlan.from_env()
        self._run_lock = threading.Lock()
        self._modules_published = False

    # -- model and data -------------------------------------------------------------------

    def prepare(self, model: Any) -> Any:
        """Move ``model`` to :attr:`device` and wrap it in DistributedDataParallel.

        Every rank starts from rank 0's weights (DDP broadcasts them). The model is also
        what ``report(checkpoint=True)`` saves.

        Returns:
            The wrapped model; train it like the original.
        """
        from torch.nn.parallel import DistributedDataParallel

        model = model.to(self.device)
        ids = [self.device.index] if self.device.type == "cuda" else None
        wrapped = DistributedDataParallel(model, device_ids=ids)
        self._model = wrapped
        return wrapped

    def loader(
        self,
        dataset: Any,
        batch_size: int,
        epoch: int,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        **dataloader_options: Any,
    ) -> Iterator[Any]:
        """This rank's batches of ``dataset`` for ``epoch``.

        The order depends only on (seed, epoch), never on the attempt, so a restarted run
        sees the batches an uninterrupted one would.

        Args:
            dataset: a map-style dataset, or a tuple of equally long tensors.
            batch_size: examples per batch on this rank.
            epoch: the epoch (also what a checkpoint records when ``report`` has no step).
            shuffle: shuffle per epoch.
            drop_last: drop the tail that does not divide across ranks instead of padding.
            **dataloader_options: passed to ``torch.utils.data.DataLoader``.

        Returns:
            An iterator over batches.
        """
        from torch.utils.data import DataLoader, TensorDataset

        if isinstance(dataset, tuple | list):
            dataset = TensorDataset(*dataset)
        if batch_size < 1:
            raise InvalidArgument(f"batch_size must be at least 1, got {batch_size}")
        self._epoch = epoch
        sampler = ShardedSampler(
            len(dataset),
            self.rank,
            self.world_size,
            seed=self.seed,
            epoch=epoch,
            shuffle=shuffle,
            drop_last=drop_last,
        )
        batches = DataLoader(
            dataset, batch_size=batch_size, sampler=sampler.indices(), **dataloader_options
        )
        if self.rank == 0:  # the data and the model are loaded: their libraries are known
            self._publish_modules()
        return self._with_fault_hook(batches, epoch)

    def _publish_modules(self) -> None:
        """Tell the launcher (once) what to import in advance for a restart's workers."""
        if not self._modules_published:
            from runyard.training._standby import importable_modules

            publish_json(self._store, self._spec.rendezvous, "modules", importable_modules())
            self._modules_published = True

    def _with_fault_hook(self, batches: Any, epoch: int) -> Iterator[Any]:
        middle = len(batches) // 2
        for i, batch in enumerate(batches):
            if i == middle:
                maybe_die(self._fault, self.rank, epoch, self.attempt, "batch")
            yield batch

    # -- checkpoints ----------------------------------------------------------------------

    def restore(
        self, model: Any = None, optimizer: Any = None, **objects: Any
    ) -> TrainState | None:
        """Load the run's last checkpoint into these objects, or return None on a fresh start.

        The objects are also what later ``report(checkpoint=True)`` calls save: pass every
        object with a ``state_dict`` whose state must survive a restart (a scheduler, a
        gradient scaler, …) by keyword. Each rank's RNG state comes back as it was.

        Args:
            model: the model (as returned by :meth:`prepare`, or not wrapped).
            optimizer: its optimizer.
            **objects: other objects with ``state_dict`` / ``load_state_dict``.

        Returns:
            The restored :class:`TrainState` (resume at ``state.epoch + 1``), or None.
        """
        if model is not None:
            self._model = model
        self._optimizer = optimizer if optimizer is not None else self._optimizer
        self._objects.update(objects)
        resume = self._spec.resume_from
        if resume is None:
            return None
        payload = decode_checkpoint(self._artifacts().get_bytes(resume.artifact.digest))
        if self._model is not None and payload.get("model") is not None:
            _unwrap(self._model).load_state_dict(payload["model"])
        if self._optimizer is not None and payload.get("optimizer") is not None:
            self._optimizer.load_state_dict(payload["optimizer"])
        saved_objects = payload.get("objects", {})
        for name, obj in self._objects.items():
            if name in saved_objects:
                obj.load_state_dict(saved_objects[name])
        rng = payload.get("rng") or []
        if rng:
            restore_rng(rng[self.rank % len(rng)])
        return TrainState(
            epoch=int(payload["epoch"]),
            metrics=MappingProxyType(dict(payload.get("metrics", {}))),
            extra=MappingProxyType(dict(payload.get("extra", {}))),
            checkpoint=resume,
        )

    # -- reporting ------------------------------------------------------------------------

    def report(
        self,
        metrics: Mapping[str, Any],
        step: int | None = None,
        *,
        checkpoint: bool = False,
        reduce: Reduce = "mean",
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Log metrics to the run and optionally save a checkpoint. Call it on every rank.

        Args:
            metrics: name → number (Python, NumPy or 0-d tensor).
            step: the metrics' step; for checkpoints, the epoch (default: the epoch of the
                last ``loader`` call).
            checkpoint: also save model, optimizer, other restored objects, every rank's RNG
                state and ``extra`` to the artifact store, atomically, recorded on the run.
            reduce: ``"mean"`` averages each metric over ranks; ``"rank0"`` logs rank 0's.
            extra: picklable values to save with the checkpoint (``TrainState.extra``).

        Raises:
            InvalidArgument: a value is not a number, ranks reported different metric names,
                or a checkpoint has no step and no loader epoch.
        """
        values = {str(k): check_metric_value(str(k), _as_float(v)) for k, v in metrics.items()}
        if reduce == "mean":
            values = self._mean_over_ranks(values)
        elif reduce != "rank0":
            raise InvalidArgument(f"reduce must be 'mean' or 'rank0', got {reduce!r}")
        epoch = step if step is not None else self._epoch
        if self.rank == 0:
            self._tracked_run().log_metrics(values, step=epoch)
        if checkpoint:
            if epoch is None:
                raise InvalidArgument("report(checkpoint=True) needs step= (the epoch)")
            self._save(epoch, values, extra or {})
        if self.rank == 0:
            self._publish_modules()
            publish_json(
                self._store,
                self._spec.rendezvous,
                "progress",
                {"epoch": epoch, "metrics": values, "checkpoints": len(self._index)},
            )

    def _mean_over_ranks(self, values: dict[str, float]) -> dict[str, float]:
        if self.world_size == 1:
            return values
        import torch
        import torch.distributed as dist

        keys = sorted(values)
        check = float(zlib.crc32("\0".join(keys).encode()))
        header = torch.tensor([len(keys), check, -len(keys), -check], dtype=torch.float64)
        header = header.to(self.device)
        dist.all_reduce(header, op=dist.ReduceOp.MAX)
        if header[0].item() != -header[2].item() or header[1].item() != -header[3].item():
            raise InvalidArgument(
                f"rank {self.rank} reported metrics {keys}, another rank reported other names; "
                "every rank must report the same metric names (or use reduce='rank0')"
            )
        total = torch.tensor([values[k] for k in keys], dtype=torch.float64).to(self.device)
        dist.all_reduce(total)
        return {k: float(v) / self.world_size for k, v in zip(keys, total.tolist(), strict=True)}

    def _save(self, epoch: int, metrics: dict[str, float], extra: Mapping[str, Any]) -> None:
        import torch.distributed as dist

        rng = capture_rng()
        gathered: list[Any] | None = [None] * self.world_size if self.rank == 0 else None
        if self.world_size > 1:
            dist.gather_object(rng, gathered, dst=0)
        else:
            gathered = [rng]
        if self.rank == 0:
            payload = {
                "epoch": epoch,
                "metrics": metrics,
                "model": _unwrap(self._model).state_dict() if self._model is not None else None,
                "optimizer": self._optimizer.state_dict() if self._optimizer else None,
                "objects": {k: o.state_dict() for k, o in self._objects.items()},
                "extra": dict(extra),
                "rng": gathered,
                "sampler": {"seed": self.seed, "epoch": epoch, "world_size": self.world_size},
            }
            run = self._tracked_run()
            run.flush()
            _, self._index = save_checkpoint(
                run.store,
                self._artifacts(),
                self.run_id,
                data=encode_checkpoint(payload),
                epoch=epoch,
                metrics=metrics,
                attempt=self.attempt,
                index=self._index,
                policy=self._spec.policy,
                before_commit=lambda: maybe_die(
                    self._fault, self.rank, epoch, self.attempt, "checkpoint"
                ),
            )
        if self.world_size > 1:
            dist.barrier()

    # -- plumbing -------------------------------------------------------------------------

    def _open_run_early(self) -> None:
        try:
            self._tracked_run()
        except Exception:  # noqa: BLE001, S110 - the first report opens it again and raises
            pass

    def _tracked_run(self) -> Run:
        with self._run_lock:
            if self._run is None:
                from runyard.tracking.client import start_run

                self._run = start_run(
                    run_id=self.run_id,
                    tracking_uri=self._spec.tracking_uri,
                    artifact_uri=self._spec.artifact_uri,
                )
            return self._run

    def _artifacts(self) -> ContentAddressedStore:
        if self._cas is None:
            from runyard.artifacts import open_cas

            self._cas = open_cas(self._spec.artifact_uri)
        return self._cas

    def _close(self) -> None:
        """Flush what rank 0 logged (the driver, not a worker, ends the run)."""
        if self._run is not None:
            self._run.flush()

    def __repr__(self) -> str:
        return (
            f"TrainContext(rank={self.rank}, world_size={self.world_size}, "
            f"device={self.device}, attempt={self.attempt})"
        )


def _unwrap(model: Any) -> Any:
    return getattr(model, "module", model)


def _as_float(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else value
