r"""Checkpoints in the content-addressed artifact store: complete or absent, never half-written.

A checkpoint is one blob (``torch.save`` of model, optimizer and other ``state_dict``\\ s, the
RNG state of every rank, the sampler's seed and epoch, the reported metrics and the user's
extras) plus an updated index, ``checkpoints/index.json``, listing the checkpoints that the
retention policy keeps. Saving goes:

1. write the blob to the artifact store — atomic there (temp file, fsync, rename; or one
   object PUT), and named by its digest, so a crash leaves at most an unreferenced blob;
2. record the blob's ref *and* the new index on the run in one ``log_artifact_refs`` call.

Until step 2 the run does not know the checkpoint exists; after it, every byte is there and
verified by digest on read. A worker killed at any moment therefore leaves the run with the
previous checkpoint or the new one, never a torn one.

Retention (:class:`CheckpointPolicy`) keeps the last ``keep_last`` and the best ``keep_best``
by a chosen metric in the index. Blobs dropped from the index stay in the store (another run
may hold the same content: the store deduplicates); reclaiming unreferenced blobs is the
artifact store's garbage collection, not training's.

Example:
    >>> from runyard.training.checkpoint import CheckpointPolicy
    >>> CheckpointPolicy(keep_last=2, keep_best=1, metric="val_acc", mode="max").keep_best
    1
"""

from __future__ import annotations

import io
import json
import pickle
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runyard.entities import ArtifactRef
from runyard.errors import InvalidArgument, NotFound
from runyard.training.result import CheckpointRef

if TYPE_CHECKING:
    from runyard.artifacts.cas import ContentAddressedStore
    from runyard.tracking.store.base import TrackingStore

__all__ = [
    "CHECKPOINT_DIR",
    "INDEX_PATH",
    "CheckpointPolicy",
    "capture_rng",
    "decode_checkpoint",
    "encode_checkpoint",
    "load_checkpoint",
    "read_index",
    "restore_rng",
    "retain",
    "save_checkpoint",
]

CHECKPOINT_DIR = "checkpoints"
INDEX_PATH = f"{CHECKPOINT_DIR}/index.json"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class CheckpointPolicy:
    """Which checkpoints a run keeps in its index.

    Attributes:
        keep_last: the most recent checkpoints to keep (at least 1: restarts resume from it).
        keep_best: the best checkpoints by ``metric`` to keep as well (0: none).
        metric: the reported metric that ranks checkpoints (required with ``keep_best``).
        mode: ``"max"`` when higher is better, ``"min"`` when lower is.

    Raises:
        InvalidArgument: ``keep_last < 1``, a negative ``keep_best``, ``keep_best`` without a
            metric, or an unknown mode.
    """

    keep_last: int = 2
    keep_best: int = 0
    metric: str | None = None
    mode: str = "max"

    def __post_init__(self) -> None:
        if self.keep_last < 1:
            raise InvalidArgument(
                f"keep_last must be at least 1 (restarts resume from it), got {self.keep_last}"
            )
        if self.keep_best < 0:
            raise InvalidArgument(f"keep_best must not be negative, got {self.keep_best}")
        if self.keep_best and not self.metric:
            raise InvalidArgument("keep_best needs metric= (the reported metric to rank by)")
        if self.mode not in ("max", "min"):
            raise InvalidArgument(f"mode must be 'max' or 'min', got {self.mode!r}")

    def best(self, checkpoints: Sequence[CheckpointRef]) -> CheckpointRef | None:
        """The best checkpoint by ``metric`` (the latest among equals), or None."""
        if not self.metric:
            return None
        scored = [c for c in checkpoints if self.metric in c.metrics]
        if not scored:
            return None
        sign = 1.0 if self.mode == "max" else -1.0
        return max(scored, key=lambda c: (sign * c.metrics[self.metric or ""], c.epoch))


def retain(checkpoints: Sequence[CheckpointRef], policy: CheckpointPolicy) -> list[CheckpointRef]:
    """The checkpoints ``policy`` keeps, oldest first (a later one replaces the same epoch).

    Example:
        >>> retain([], CheckpointPolicy())
        []
    """
    by_epoch: dict[int, CheckpointRef] = {}
    for c in checkpoints:
        by_epoch[c.epoch] = c
    ordered = [by_epoch[e] for e in sorted(by_epoch)]
    keep = {c.epoch for c in ordered[-policy.keep_last :]}
    if policy.keep_best and policy.metric:
        sign = 1.0 if policy.mode == "max" else -1.0
        metric = policy.metric
        scored = [c for c in ordered if metric in c.metrics]
        scored.sort(key=lambda c: (sign * c.metrics[metric], c.epoch), reverse=True)
        keep.update(c.epoch for c in scored[: policy.keep_best])
    return [c for c in ordered if c.epoch in keep]


# -- payloads -----------------------------------------------------------------------------


def capture_rng() -> bytes:
    """This process's RNG state (Python, NumPy, torch CPU and CUDA) as bytes."""
    import numpy as np
    import torch

    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return pickle.dumps(state)


def restore_rng(blob: bytes) -> None:
    """Put back a state :func:`capture_rng` took."""
    import numpy as np
    import torch

    state = pickle.loads(blob)
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def encode_checkpoint(payload: Mapping[str, Any]) -> bytes:
    """``torch.save`` a checkpoint payload to bytes."""
    import torch

    buffer = io.BytesIO()
    torch.save({"format": FORMAT_VERSION, **payload}, buffer)
    return buffer.getvalue()


def decode_checkpoint(data: bytes, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a payload :func:`encode_checkpoint` wrote.

    Checkpoints are pickles (as ``torch.save`` files are): load only those of runs you trust.
    """
    import torch

    payload: dict[str, Any] = torch.load(
        io.BytesIO(data), map_location=map_location, weights_only=False
    )
    return payload


# -- the run's record ---------------------------------------------------------------------


def read_index(
    store: TrackingStore, cas: ContentAddressedStore, run_id: str
) -> list[CheckpointRef]:
    """The checkpoints recorded on a run, oldest first (empty before the first one)."""
    refs = [r for r in store.list_artifact_refs(run_id, INDEX_PATH) if r.path == INDEX_PATH]
    if not refs:
        return []
    entries = json.loads(cas.get_bytes(refs[0].digest).decode())
    return [CheckpointRef.from_json(e) for e in entries["checkpoints"]]


def save_checkpoint(
    store: TrackingStore,
    cas: ContentAddressedStore,
    run_id: str,
    *,
    data: bytes,
    epoch: int,
    metrics: Mapping[str, float],
    attempt: int,
    index: Sequence[CheckpointRef],
    policy: CheckpointPolicy,
    before_commit: Any = None,
) -> tuple[CheckpointRef, list[CheckpointRef]]:
    """Store a checkpoint and record it on the run (the two-step commit described above).

    Args:
        store: the tracking store.
        cas: the artifact store.
        run_id: the run.
        data: the encoded checkpoint.
        epoch: its epoch.
        metrics: its metrics.
        attempt: the attempt writing it.
        index: the run's current index.
        policy: retention.
        before_commit: called between the blob write and the commit (fault injection).

    Returns:
        The new checkpoint and the new index.
    """
    blob = cas.put_bytes(data, f"{CHECKPOINT_DIR}/epoch-{epoch:06d}.pt")
    ckpt = CheckpointRef(epoch, dict(metrics), blob, attempt, int(time.time() * 1000))
    new_index = retain([*index, ckpt], policy)
    best = policy.best(new_index)
    document = {
        "checkpoints": [c.to_json() for c in new_index],
        "last_epoch": ckpt.epoch,
        "best_epoch": best.epoch if best else None,
        "policy": {
            "keep_last": policy.keep_last,
            "keep_best": policy.keep_best,
            "metric": policy.metric,
            "mode": policy.mode,
        },
    }
    index_ref = cas.put_bytes(json.dumps(document, indent=1).encode(), INDEX_PATH)
    if before_commit is not None:
        before_commit()
    store.log_artifact_refs(run_id, [blob, index_ref])
    return ckpt, new_index


def load_checkpoint(
    checkpoint: CheckpointRef | ArtifactRef, artifact_uri: str | None = None
) -> dict[str, Any]:
    """Load a checkpoint's payload: ``model``, ``optimizer``, ``objects``, ``extra``, ``epoch``.

    Args:
        checkpoint: a :class:`CheckpointRef` (``result.checkpoint``) or its artifact ref.
        artifact_uri: the artifact store (default: ``$RUNYARD_ARTIFACT_URI`` or the local one).

    Raises:
        NotFound: the blob is not in the store.
        StoreError: the blob does not match its digest.

    Example:
        >>> import runyard as ry  # doctest: +SKIP
        >>> result = ry.train(train_loop, workers=2)  # doctest: +SKIP
        >>> weights = load_checkpoint(result.checkpoint)["model"]  # doctest: +SKIP
    """
    from runyard.artifacts import open_cas

    ref = checkpoint.artifact if isinstance(checkpoint, CheckpointRef) else checkpoint
    cas = open_cas(artifact_uri)
    if not cas.has(ref.digest):
        raise NotFound(f"checkpoint blob {ref.digest} is not in {cas.uri}")
    return decode_checkpoint(cas.get_bytes(ref.digest))
