"""Register models from runs, move aliases (through evaluation gates), resolve URIs, load.

Example:
    >>> import runyard as ry
    >>> from runyard.registry import register_model, set_alias, load_model
    >>> with ry.start_run(experiment="digits") as run:  # doctest: +SKIP
    ...     run.log_model(net, "model", flavor="onnx", input_example=x[:8])
    >>> mv = register_model("digits-mlp", run=run, artifact="model")  # doctest: +SKIP
    >>> set_alias("digits-mlp", "champion", version=mv.version,  # doctest: +SKIP
    ...           gate="accuracy >= 0.9")
    >>> model = load_model("models:/digits-mlp@champion")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard.entities import LineageEdge, NodeKind
from runyard.entities.registry import ModelVersion, RegisteredModel
from runyard.errors import AlreadyExists, InvalidArgument, NotFound, StoreError
from runyard.registry.flavors import LoadedModel
from runyard.registry.log import load_saved_model
from runyard.registry.manifest import MANIFEST, ModelManifest
from runyard.registry.uri import ModelRef, RunModelRef, parse_model_uri

if TYPE_CHECKING:
    from runyard.tracking.client import Client, Run

__all__ = [
    "GateRefused",
    "delete_alias",
    "download_model",
    "get_manifest",
    "get_model_version",
    "list_models",
    "list_versions",
    "load_model",
    "model_lineage",
    "register_model",
    "resolve_model",
    "set_alias",
]

FLAVOR_TAG = "runyard.flavor"
GATE_TAG_PREFIX = "runyard.gate."


class GateRefused(InvalidArgument):
    """An alias gate refused a version; ``reasons`` says which rules failed and why."""

    def __init__(self, message: str, reasons: Sequence[str]) -> None:
        self.reasons = tuple(reasons)
        super().__init__("\n  ".join([message, *self.reasons]))


def _client(client: Client | None) -> Client:
    from runyard.tracking.client import Client

    c = client or Client()
    if not c.store.supports_registry:
        raise StoreError(f"the tracking store {type(c.store).__name__} has no model registry")
    return c


def _source_ref(version: ModelVersion) -> RunModelRef:
    ref = parse_model_uri(version.source)
    if not isinstance(ref, RunModelRef):
        raise InvalidArgument(
            f"version {version.version} of {version.name} has source "
            f"{version.source!r}, not a runs:/ URI"
        )
    return ref


def register_model(
    name: str,
    *,
    run: Run | str,
    artifact: str = "model",
    tags: Mapping[str, str] | None = None,
    description: str = "",
    client: Client | None = None,
) -> ModelVersion:
    """Register the model logged at ``artifact`` of ``run`` as the next version of ``name``.

    The registered model is created when missing. The version keeps the run id (so its
    params, metrics, datasets and evaluation stay one hop away) and a lineage edge
    run → ``models:/<name>/<version>`` is recorded.

    Args:
        name: the registered model name.
        run: the run (or its id) that logged the model.
        artifact: the folder the model was logged at.
        tags: version tags.
        description: version description.
        client: the tracking client (default: ``Client()``).

    Returns:
        The new frozen :class:`ModelVersion`.

    Raises:
        NotFound: the run does not exist or holds no runyard model at ``artifact``.

    Example:
        >>> mv = register_model("digits-mlp", run=run, artifact="model")  # doctest: +SKIP
        >>> mv.version  # doctest: +SKIP
        1
    """
    c = _client(client)
    run_id = run if isinstance(run, str) else run.run_id
    path = artifact.strip("/")
    try:
        manifest = ModelManifest.from_json(c.read_artifact(run_id, f"{path}/{MANIFEST}"))
    except NotFound as e:
        raise NotFound(
            f"run {run_id} has no model at {path!r} (no {path}/{MANIFEST}); log it with "
            "run.log_model(model, artifact_path) first"
        ) from e
    try:
        c.store.create_registered_model(name)
    except AlreadyExists:
        pass
    version = c.store.create_model_version(
        name,
        f"runs:/{run_id}/{path}",
        run_id=run_id,
        description=description,
        tags={FLAVOR_TAG: manifest.flavor, **(tags or {})},
    )
    c.store.add_lineage(
        [
            LineageEdge(
                NodeKind.RUN,
                run_id,
                NodeKind.MODEL,
                f"models:/{name}/{version.version}",
                "registered",
            )
        ]
    )
    return version


def get_model_version(name: str, version: int, client: Client | None = None) -> ModelVersion:
    """One version. Raises NotFound."""
    return _client(client).store.get_model_version(name, version)


def list_models(
    name_like: str | None = None, client: Client | None = None
) -> list[RegisteredModel]:
    """Every registered model (optionally whose name matches a SQL LIKE pattern)."""
    c = _client(client)
    out: list[RegisteredModel] = []
    token: str | None = None
    while True:
        page = c.store.search_registered_models(name_like, page_token=token)
        out.extend(page.items)
        token = page.next_page_token
        if token is None:
            return out


def list_versions(name: str, client: Client | None = None) -> list[ModelVersion]:
    """Every version of ``name``, newest first. Raises NotFound for an unknown model."""
    c = _client(client)
    c.store.get_registered_model(name)
    out: list[ModelVersion] = []
    token: str | None = None
    while True:
        page = c.store.search_model_versions(name=name, page_token=token)
        out.extend(page.items)
        token = page.next_page_token
        if token is None:
            return out


def _check_gate(c: Client, mv: ModelVersion, alias: str, rules: Sequence[str]) -> dict[str, Any]:
    from runyard.evaluation import gate, load_eval

    if mv.run_id is None:
        raise GateRefused(
            f"version {mv.version} of {mv.name} has no run to read an evaluation "
            f"from; alias {alias!r} not moved",
            (),
        )
    try:
        result = load_eval(mv.run_id, c)
    except NotFound as e:
        raise GateRefused(
            f"version {mv.version} of {mv.name}: run {mv.run_id} has no stored evaluation "
            f"(log one with ry.evaluate(..., run=run)); alias {alias!r} not moved",
            (),
        ) from e
    verdict = gate(result, *rules)
    if not verdict.passed:
        raise GateRefused(
            f"version {mv.version} of {mv.name} fails the gate of alias {alias!r}; not moved:",
            verdict.reasons,
        )
    return verdict.to_dict()


def set_alias(
    name: str,
    alias: str,
    version: int,
    *,
    gate: str | Sequence[str] | None = None,
    client: Client | None = None,
) -> ModelVersion:
    """Point ``alias`` of ``name`` at ``version``, if it passes the gate.

    Args:
        name: the registered model.
        alias: e.g. ``champion``; moved when it is set already.
        version: the version number.
        gate: a rule (``"accuracy >= 0.9"``) or rules in the evaluation gate language,
            checked against the evaluation stored on the version's run
            (:func:`runyard.evaluation.load_eval`). The passing verdict is kept as the
            version tag ``runyard.gate.<alias>``.
        client: the tracking client.

    Returns:
        The version, now carrying the alias.

    Raises:
        NotFound: unknown model or version.
        GateRefused: the version has no stored evaluation, or a rule fails (``reasons``
            lists each rule with its values); the alias is not moved.
        InvalidFilter: a rule does not parse.

    Example:
        >>> set_alias("digits-mlp", "champion", 3, gate=["accuracy >= 0.9"])  # doctest: +SKIP
    """
    c = _client(client)
    mv = c.store.get_model_version(name, version)
    if gate is not None:
        rules = [gate] if isinstance(gate, str) else list(gate)
        verdict = _check_gate(c, mv, alias, rules)
        c.store.set_model_version_tag(
            name, version, GATE_TAG_PREFIX + alias, json.dumps(verdict, sort_keys=True)
        )
    c.store.set_model_alias(name, alias, version)
    return c.store.get_model_version(name, version)


def delete_alias(name: str, alias: str, client: Client | None = None) -> None:
    """Remove an alias. Raises NotFound."""
    _client(client).store.delete_model_alias(name, alias)


def resolve_model(uri: str, client: Client | None = None) -> ModelVersion:
    """The version a ``models:/`` URI names now.

    Raises:
        InvalidArgument: not a ``models:/`` URI.
        NotFound: unknown model, version or alias, or a model with no versions.

    Example:
        >>> resolve_model("models:/digits-mlp@champion").version  # doctest: +SKIP
        3
    """
    ref = parse_model_uri(uri)
    if not isinstance(ref, ModelRef):
        raise InvalidArgument(f"{uri!r} is not a models:/ URI")
    c = _client(client)
    if ref.alias is not None:
        return c.store.get_model_version_by_alias(ref.name, ref.alias)
    if ref.version is not None:
        return c.store.get_model_version(ref.name, ref.version)
    versions = c.store.search_model_versions(name=ref.name, max_results=1).items
    if not versions:
        c.store.get_registered_model(ref.name)  # NotFound for an unknown model
        raise NotFound(f"registered model {ref.name!r} has no versions")
    return versions[0]


def _run_ref(uri: str, client: Client | None) -> RunModelRef:
    ref = parse_model_uri(uri)
    if isinstance(ref, RunModelRef):
        return ref
    return _source_ref(resolve_model(uri, client))


def download_model(uri: str, dest: str | Path, client: Client | None = None) -> Path:
    """Download the files of a model URI into ``dest`` and return the model folder."""
    from runyard.tracking.client import Client as _Client

    ref = _run_ref(uri, client)
    c = client or _Client()
    folder = Path(dest)
    refs = c.list_artifacts(ref.run_id, ref.path + "/")
    if not refs:
        raise NotFound(f"run {ref.run_id} has no model files under {ref.path!r} ({uri})")
    for r in refs:
        c.artifacts.download(r, folder / r.path[len(ref.path) + 1 :])
    return folder


def get_manifest(uri: str, client: Client | None = None) -> ModelManifest:
    """The flavor and signature of a model URI, without downloading its files."""
    from runyard.tracking.client import Client as _Client

    ref = _run_ref(uri, client)
    c = client or _Client()
    return ModelManifest.from_json(c.read_artifact(ref.run_id, f"{ref.path}/{MANIFEST}"))


def load_model(
    uri: str, client: Client | None = None, dest: str | Path | None = None
) -> LoadedModel:
    """Load the model a URI names, ready to ``predict`` on named numpy arrays.

    Args:
        uri: ``models:/name@alias``, ``models:/name/3``, ``models:/name`` or ``runs:/id/path``.
        client: the tracking client.
        dest: where to download the files (default: a temporary folder, removed after
            loading when the flavor reads everything into memory, as all built-ins do).

    Example:
        >>> model = load_model("models:/digits-mlp@champion")  # doctest: +SKIP
        >>> model.predict({"input": x[:4]})["output"].shape  # doctest: +SKIP
        (4, 10)
    """
    if dest is not None:
        return load_saved_model(download_model(uri, dest, client))
    with tempfile.TemporaryDirectory(prefix="runyard-load-") as tmp:
        return load_saved_model(download_model(uri, tmp, client))


def model_lineage(name: str, version: int, client: Client | None = None) -> dict[str, Any]:
    """Where a version came from: its run, params, inputs (datasets) and eval metrics.

    Example:
        >>> model_lineage("digits-mlp", 3)["params"]  # doctest: +SKIP
        {'lr': '0.01', 'hidden': '64'}
    """
    c = _client(client)
    mv = c.store.get_model_version(name, version)
    out: dict[str, Any] = {
        "model": f"models:/{name}/{version}",
        "source": mv.source,
        "run_id": mv.run_id,
        "params": {},
        "inputs": [],
        "eval": {},
    }
    if mv.run_id is None:
        return out
    run = c.get_run(mv.run_id)
    out["params"] = dict(run.params)
    out["inputs"] = [
        {"kind": e.source_kind.value, "id": e.source_id, "relation": e.relation}
        for e in c.get_lineage(mv.run_id, "upstream")
        if e.target_id == mv.run_id
    ]
    out["eval"] = {k: s.latest for k, s in run.metrics.items() if k.startswith("eval/")}
    return out
