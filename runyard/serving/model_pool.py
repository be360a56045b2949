"""The models one server serves, each behind its batcher; hot reload when an alias moves.

A model is served under its registered name (or a name given with ``name=uri``). A watcher
thread re-resolves alias URIs every ``poll_interval`` seconds; when an alias has moved it
loads and warms the new version, swaps it in atomically, then drains the old one. A request
that picked the old version just before the swap is retried on the new one, so no request
fails during the switch.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from runyard.errors import InvalidArgument, NotFound
from runyard.registry import LoadedModel, Signature, get_manifest, load_model, resolve_model
from runyard.registry.signature import numpy_dtype
from runyard.registry.uri import ModelRef, parse_model_uri
from runyard.serving.batching import Answer, BatchConfig, BatcherClosed, DynamicBatcher

if TYPE_CHECKING:
    from runyard.tracking.client import Client

__all__ = ["ModelPool", "ModelSpec", "ServedModel"]

log = logging.getLogger("runyard.serving")

Arrays = dict[str, np.ndarray[Any, Any]]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model to serve.

    Attributes:
        name: the name clients use in ``/v2/models/{name}``.
        uri: ``models:/name@alias``, ``models:/name/3`` or ``runs:/id/path``.
    """

    name: str
    uri: str

    @classmethod
    def parse(cls, text: str) -> ModelSpec:
        """``uri`` or ``name=uri``; the name defaults to the registered model's name.

        Example:
            >>> ModelSpec.parse("models:/digits-mlp@champion").name
            'digits-mlp'
        """
        name, sep, uri = text.partition("=")
        if not sep:
            uri = text
            ref = parse_model_uri(uri)
            name = ref.name if isinstance(ref, ModelRef) else ref.path.rsplit("/", 1)[-1]
        parse_model_uri(uri)
        return cls(name, uri)


@dataclass(frozen=True, slots=True)
class ServedModel:
    """One loaded version of a served model."""

    name: str
    version: str
    uri: str
    flavor: str
    model: LoadedModel
    batcher: DynamicBatcher

    @property
    def signature(self) -> Signature:
        """Its inputs and outputs."""
        return self.model.signature


def _warm(model: LoadedModel, rows: int) -> float | None:
    """Warm the model up on zeros and time a batch of ``rows``.

    The first real request then pays no lazy initialisation. Returns the seconds one batch
    of ``rows`` took, or None when the inputs have no batch dimension or are BYTES.
    """
    specs = model.signature.inputs
    if any(s.datatype == "BYTES" for s in specs):
        return None

    def zeros(n: int) -> Arrays:
        return {
            s.name: np.zeros(
                tuple((n if i == 0 else 1) if d == -1 else d for i, d in enumerate(s.shape)),
                numpy_dtype(s.datatype),
            )
            for s in specs
        }

    model.predict(zeros(1))
    batch = zeros(rows)
    if any(s.shape[:1] != (-1,) for s in specs):
        return None  # no batch dimension to fill
    model.predict(batch)
    started = time.perf_counter()
    model.predict(batch)
    return time.perf_counter() - started


class ModelPool:
    """Loads, serves and hot-reloads several models.

    Example:
        >>> pool = ModelPool([ModelSpec.parse("models:/digits-mlp@champion")])  # doctest: +SKIP
        >>> pool.load()  # doctest: +SKIP
        >>> served, answer = pool.infer("digits-mlp", None, {"input": x})  # doctest: +SKIP
        >>> await answer  # doctest: +SKIP
    """

    def __init__(
        self,
        specs: Sequence[ModelSpec],
        client: Client | None = None,
        batching: BatchConfig | None = None,
        observe: Callable[[str, int, float], None] | None = None,
        on_reload: Callable[[str], None] | None = None,
    ) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise InvalidArgument(f"two served models share a name: {names}; use name=uri")
        if not specs:
            raise InvalidArgument("nothing to serve: give at least one model URI")
        self._specs = list(specs)
        self._client = client
        self._batching = batching or BatchConfig()
        self._observe = observe
        self._on_reload = on_reload
        self._models: dict[str, ServedModel] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.ready = False

    @property
    def batching(self) -> BatchConfig:
        """The batching every model gets."""
        return self._batching

    def _load(self, spec: ModelSpec) -> ServedModel:
        ref = parse_model_uri(spec.uri)
        if isinstance(ref, ModelRef):
            mv = resolve_model(spec.uri, self._client)
            version, source = str(mv.version), f"models:/{mv.name}/{mv.version}"
        else:
            version, source = "1", spec.uri
        model = load_model(source, self._client)
        took = _warm(model, max(1, self._batching.max_batch_size))
        inline = took is not None and took < self._batching.inline_below
        observe = self._observe

        def on_batch(rows: int, queued: float) -> None:
            if observe is not None:
                observe(spec.name, rows, queued)

        batcher = DynamicBatcher(model.predict, self._batching, on_batch, spec.name, inline)
        log.info(
            "%s version %s: batches run %s",
            spec.name,
            version,
            "on the event loop" if inline else "on a worker thread",
        )
        return ServedModel(
            spec.name, version, spec.uri, get_manifest(source, self._client).flavor, model, batcher
        )

    def load(self) -> None:
        """Load every model (raises the first failure: NotFound, InvalidArgument …)."""
        for spec in self._specs:
            served = self._load(spec)
            with self._lock:
                self._models[spec.name] = served
        self.ready = True

    def names(self) -> list[str]:
        """The served model names."""
        return [s.name for s in self._specs]

    def get(self, name: str, version: str | None = None) -> ServedModel:
        """The served model ``name`` (at ``version`` when given). Raises NotFound."""
        served = self._models.get(name)
        if served is None:
            raise NotFound(f"model {name!r} is not served here; served: {self.names()}")
        if version is not None and version != served.version:
            raise NotFound(
                f"model {name!r} has no version {version!r} here; serving version {served.version}"
            )
        return served

    def infer(
        self, name: str, version: str | None, inputs: Arrays
    ) -> tuple[ServedModel, asyncio.Future[Arrays]]:
        """Queue a checked request on the current version (retried across a swap).

        Call it on the running event loop.

        Returns:
            The version that will answer, and the (asyncio) future of its answer.
        """
        for _ in range(5):
            served = self.get(name, version)
            try:
                return served, served.batcher.submit_async(inputs)
            except BatcherClosed:
                time.sleep(0.001)  # the swap is under way; the new version is a moment off
        raise NotFound(f"model {name!r} is being replaced; retry")

    def infer_callback(
        self, name: str, version: str | None, inputs: Arrays, answer: Answer
    ) -> ServedModel:
        """Like :meth:`infer`, answered through ``answer`` (on the loop) instead of a future.

        Returns:
            The version that will answer.
        """
        for _ in range(5):
            served = self.get(name, version)
            try:
                served.batcher.submit_callback(inputs, answer)
                return served
            except BatcherClosed:
                time.sleep(0.001)  # the swap is under way; the new version is a moment off
        raise NotFound(f"model {name!r} is being replaced; retry")

    # -- hot reload -----------------------------------------------------------------------

    def check_aliases(self) -> list[str]:
        """Reload every alias-served model whose alias moved; return the reloaded names."""
        moved = []
        for spec in self._specs:
            ref = parse_model_uri(spec.uri)
            if not isinstance(ref, ModelRef) or ref.alias is None:
                continue
            current = self._models.get(spec.name)
            try:
                version = str(resolve_model(spec.uri, self._client).version)
            except NotFound:
                continue  # alias deleted: keep serving what we have
            if current is not None and version == current.version:
                continue
            fresh = self._load(spec)
            with self._lock:
                old, self._models[spec.name] = self._models.get(spec.name), fresh
            if old is not None:
                old.batcher.close(drain=True, timeout=30)
            moved.append(spec.name)
            if self._on_reload is not None:
                self._on_reload(spec.name)
        return moved

    def start_watching(self, poll_interval: float) -> None:
        """Check aliases every ``poll_interval`` seconds on a background thread."""

        def loop() -> None:
            while not self._stop.wait(poll_interval):
                try:
                    self.check_aliases()
                except Exception:  # noqa: BLE001 - a failed reload keeps the old version serving
                    log.exception("reloading a model after its alias moved failed")

        self._watcher = threading.Thread(target=loop, name="alias-watcher", daemon=True)
        self._watcher.start()

    def close(self, timeout: float = 30.0) -> None:
        """Stop watching and drain every batcher."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout)
        for served in list(self._models.values()):
            served.batcher.close(drain=True, timeout=timeout)
        self.ready = False
