"""What the HTTP and gRPC front ends share: metadata, limits, and one inference call."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from runyard.errors import InvalidArgument, NotFound, RunyardError, UserCodeError
from runyard.serving.codec import InputTensor, check_inputs
from runyard.serving.metrics import ServingMetrics
from runyard.serving.model_pool import ModelPool, ServedModel

__all__ = [
    "SERVER_NAME",
    "Inference",
    "RequestTooLarge",
    "ServingLimits",
    "model_metadata",
    "server_metadata",
    "status_of",
]

Arrays = dict[str, np.ndarray[Any, Any]]

SERVER_NAME = "runyard"
EXTENSIONS: list[str] = ["binary_tensor_data"]
"""Protocol extensions advertised in server metadata (see :mod:`runyard.serving.binary`)."""


class RequestTooLarge(InvalidArgument):
    """The request body is larger than the server accepts (HTTP 413)."""


@dataclass(frozen=True, slots=True)
class ServingLimits:
    """Request limits.

    Attributes:
        max_request_bytes: the largest request body accepted.
        max_batch_rows: the largest batch (first dimension) one request may carry.
    """

    max_request_bytes: int = 16 * 1024 * 1024
    max_batch_rows: int = 4096


def server_metadata() -> dict[str, Any]:
    """The ``GET /v2`` body."""
    from runyard import __version__

    return {"name": SERVER_NAME, "version": __version__, "extensions": EXTENSIONS}


def model_metadata(served: ServedModel) -> dict[str, Any]:
    """The ``GET /v2/models/{name}`` body."""
    sig = served.signature
    return {
        "name": served.name,
        "versions": [served.version],
        "platform": f"runyard_{served.flavor}",
        "inputs": [t.to_dict() for t in sig.inputs],
        "outputs": [t.to_dict() for t in sig.outputs],
    }


def status_of(error: BaseException) -> tuple[int, str]:
    """(HTTP status, short label) of an error — the one table for the serving surfaces."""
    if isinstance(error, RequestTooLarge):
        return 413, "too large"
    if isinstance(error, NotFound):
        return 404, "not found"
    if isinstance(error, InvalidArgument):
        return 400, "invalid"
    if isinstance(error, UserCodeError):
        return 500, "model error"
    if isinstance(error, RunyardError):
        return 500, "error"
    return 500, "internal"


class Inference:
    """Runs checked requests on the pool and records metrics; shared by HTTP and gRPC."""

    def __init__(self, pool: ModelPool, metrics: ServingMetrics, limits: ServingLimits) -> None:
        self.pool = pool
        self.metrics = metrics
        self.limits = limits
        self._names = frozenset(pool.names())

    def _checked(
        self,
        name: str,
        version: str | None,
        tensors: Sequence[InputTensor],
        requested: Sequence[str],
    ) -> Arrays:
        served = self.pool.get(name, version)
        inputs = check_inputs(served.signature, tensors, self.limits.max_batch_rows)
        if requested:
            known = {t.name for t in served.signature.outputs}
            missing = [r for r in requested if r not in known]
            if missing:
                raise InvalidArgument(
                    f"unknown output(s) {missing}; the model gives {sorted(known)}"
                )
        return inputs

    async def run(
        self,
        name: str,
        version: str | None,
        tensors: Sequence[InputTensor],
        requested: Sequence[str],
    ) -> tuple[ServedModel, Arrays]:
        """Check inputs against the signature, run them batched, keep requested outputs."""
        inputs = self._checked(name, version, tensors, requested)
        answering, future = self.pool.infer(name, version, inputs)
        self.metrics.started(name)
        try:
            out = await future
        finally:
            self.metrics.finished(name)
        if requested:
            out = {k: out[k] for k in requested}
        return answering, out

    def submit(
        self,
        name: str,
        version: str | None,
        tensors: Sequence[InputTensor],
        requested: Sequence[str],
        answer: Callable[[ServedModel, Arrays | BaseException], None],
    ) -> None:
        """Like :meth:`run`, without a future: ``answer`` is called on the event loop.

        Bad input raises here, before anything is queued. With a model that runs on the
        event loop, ``answer`` is called by the batch itself, in the turn of the loop after
        this one (:meth:`runyard.serving.batching.DynamicBatcher.submit_callback`).
        """
        inputs = self._checked(name, version, tensors, requested)
        metrics = self.metrics
        answering: ServedModel | None = None

        def done(out: Arrays | BaseException) -> None:
            metrics.finished(name)
            if requested and not isinstance(out, BaseException):
                out = {k: out[k] for k in requested}
            assert answering is not None  # set before any batch can run
            answer(answering, out)

        answering = self.pool.infer_callback(name, version, inputs, done)
        metrics.started(name)

    def record(self, name: str, protocol: str, error: BaseException | None, started: float) -> None:
        """Count a finished request."""
        status = "ok" if error is None else status_of(error)[1].replace(" ", "_")
        label = name if name in self._names else "_unknown"
        self.metrics.request(label, protocol, status, time.perf_counter() - started)
