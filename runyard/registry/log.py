"""Save a model in its flavor, with its signature, as artifacts of a run."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard.errors import InvalidArgument
from runyard.registry.flavors import Flavor, LoadedModel, SavedModel, detect_flavor, get_flavor
from runyard.registry.manifest import MANIFEST, ModelManifest
from runyard.registry.signature import Signature

if TYPE_CHECKING:
    from runyard.tracking.client import Run

__all__ = ["ModelInfo", "load_saved_model", "log_model", "save_model"]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model logged on a run.

    Attributes:
        run_id: the run.
        artifact_path: the folder inside the run's artifacts.
        uri: ``runs:/<run_id>/<artifact_path>``, loadable with :func:`load_model`.
        flavor: the flavor it was saved in.
        signature: its inputs and outputs.
        metadata: flavor facts, e.g. ``parity_max_error`` of an ONNX export.
    """

    run_id: str
    artifact_path: str
    uri: str
    flavor: str
    signature: Signature
    metadata: Mapping[str, Any]


def _flavor(model: object, flavor: str | None) -> Flavor:
    return detect_flavor(model) if flavor is None else get_flavor(flavor)


def save_model(
    model: Any,
    path: str | Path,
    flavor: str | None = None,
    *,
    input_example: Any = None,
    signature: Signature | None = None,
    metadata: Mapping[str, Any] | None = None,
    **options: Any,
) -> ModelManifest:
    """Save ``model`` into a local folder in its flavor, with ``runyard-model.json``.

    Args:
        model: the model object.
        path: the folder to write (created).
        flavor: ``torch``, ``onnx``, ``sklearn`` or ``python``; detected when omitted.
        input_example: a batch of inputs (array, tensor, or mapping of them); needed by
            torch and onnx exports, used to infer the signature otherwise.
        signature: the declared signature (else inferred).
        metadata: user metadata kept in the manifest.
        **options: flavor options (``format="torchscript"``, ``rtol=``, ``atol=`` …).

    Example:
        >>> from runyard.registry import save_model
        >>> save_model(clf, "/tmp/m", input_example=x[:2])  # doctest: +SKIP
    """
    chosen = _flavor(model, flavor)
    folder = Path(path)
    saved = chosen.save(
        model, folder, input_example=input_example, signature=signature, options=options
    )
    manifest = ModelManifest(chosen.name, saved.signature, {**saved.metadata, **(metadata or {})})
    (folder / MANIFEST).write_text(manifest.to_json())
    return manifest


def load_saved_model(path: str | Path) -> LoadedModel:
    """Load a model folder written by :func:`save_model` (or downloaded from a run)."""
    folder = Path(path)
    manifest = ModelManifest.read(folder)
    return get_flavor(manifest.flavor).load(
        folder, SavedModel(manifest.signature, manifest.metadata)
    )


def log_model(
    run: Run,
    model: Any,
    artifact_path: str = "model",
    flavor: str | None = None,
    *,
    input_example: Any = None,
    signature: Signature | None = None,
    metadata: Mapping[str, Any] | None = None,
    **options: Any,
) -> ModelInfo:
    """Save ``model`` in its flavor with its signature as artifacts of ``run``.

    What ``run.log_model(model, "model")`` does. Records a lineage edge run → model.

    Args:
        run: the active run.
        model: a torch module, ONNX model, scikit-learn estimator, or a class with
            ``save``/``load``/``predict``.
        artifact_path: the folder inside the run's artifacts.
        flavor: forces a flavor (``flavor="onnx"`` exports a torch module to ONNX).
        input_example: a batch of inputs; see :func:`save_model`.
        signature: see :func:`save_model`.
        metadata: see :func:`save_model`.
        **options: flavor options.

    Returns:
        A frozen :class:`ModelInfo`.

    Raises:
        InvalidArgument: unknown flavor, unusable model or example, or an ONNX export that
            fails the parity check (nothing is logged then).

    Example:
        >>> import runyard as ry
        >>> with ry.start_run(experiment="digits") as run:  # doctest: +SKIP
        ...     info = log_model(run, net, "model", flavor="onnx", input_example=x[:8])
    """
    clean = artifact_path.strip("/")
    if not clean:
        raise InvalidArgument("artifact_path must name a folder, e.g. 'model'")
    with tempfile.TemporaryDirectory(prefix="runyard-model-") as tmp:
        manifest = save_model(
            model,
            Path(tmp) / "m",
            flavor,
            input_example=input_example,
            signature=signature,
            metadata=metadata,
            **options,
        )
        run.log_artifacts(Path(tmp) / "m", clean)
    uri = f"runs:/{run.run_id}/{clean}"
    run.log_lineage(outputs={uri: "model"})
    return ModelInfo(run.run_id, clean, uri, manifest.flavor, manifest.signature, manifest.metadata)
