"""The model registry: log models in their flavor, register versions, aliases, gates, URIs.

Example:
    >>> import runyard as ry
    >>> from runyard.registry import log_model, register_model, set_alias
    >>> with ry.start_run(experiment="digits") as run:  # doctest: +SKIP
    ...     log_model(run, net, "model", flavor="onnx", input_example=x[:8])
    >>> mv = register_model("digits-mlp", run=run, artifact="model")  # doctest: +SKIP
    >>> set_alias("digits-mlp", "champion", mv.version, gate="accuracy >= 0.9")  # doctest: +SKIP
"""

from runyard.registry.flavors import FLAVORS, LoadedModel, detect_flavor, get_flavor
from runyard.registry.log import ModelInfo, load_saved_model, log_model, save_model
from runyard.registry.manifest import ModelManifest
from runyard.registry.models import (
    GateRefused,
    delete_alias,
    download_model,
    get_manifest,
    get_model_version,
    list_models,
    list_versions,
    load_model,
    model_lineage,
    register_model,
    resolve_model,
    set_alias,
)
from runyard.registry.signature import Signature, TensorSpec, infer_signature
from runyard.registry.uri import ModelRef, RunModelRef, parse_model_uri

__all__ = [
    "FLAVORS",
    "GateRefused",
    "LoadedModel",
    "ModelInfo",
    "ModelManifest",
    "ModelRef",
    "RunModelRef",
    "Signature",
    "TensorSpec",
    "delete_alias",
    "detect_flavor",
    "download_model",
    "get_flavor",
    "get_manifest",
    "get_model_version",
    "infer_signature",
    "list_models",
    "list_versions",
    "load_model",
    "load_saved_model",
    "log_model",
    "model_lineage",
    "parse_model_uri",
    "register_model",
    "resolve_model",
    "save_model",
    "set_alias",
]
