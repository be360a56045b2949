"""Runyard entities as MLflow REST JSON, and MLflow request fields as Python values.

MLflow's JSON is protobuf JSON: non-finite floats are the strings ``"NaN"``,
``"Infinity"`` and ``"-Infinity"``; int64 values may arrive as strings; tags are lists of
``{key, value}``. The run name travels both as ``info.run_name`` and the tag
``mlflow.runName``, the user as ``info.user_id`` and the tag ``mlflow.user``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from runyard.entities import Experiment, LifecycleStage, Run
from runyard.entities.registry import ModelVersion, RegisteredModel
from runyard.errors import InvalidArgument

__all__ = [
    "ArtifactLocations",
    "experiment_json",
    "float_json",
    "model_version_json",
    "opt_int",
    "registered_model_json",
    "req_str",
    "run_json",
    "tag_list",
    "tags_from",
]

RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"


def float_json(v: float) -> float | str:
    """A float as protobuf JSON (non-finite values as strings)."""
    if math.isfinite(v):
        return v
    return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """``{k: v}`` as ``[{"key": k, "value": v}]``."""
    return [{"key": k, "value": v} for k, v in tags.items()]


def tags_from(payload: Mapping[str, Any], field: str = "tags") -> dict[str, str]:
    """Parse a ``[{key, value}]`` list (InvalidArgument when malformed)."""
    raw = payload.get(field) or []
    if not isinstance(raw, list):
        raise InvalidArgument(f"{field!r} must be a list of {{key, value}} objects")
    out: dict[str, str] = {}
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise InvalidArgument(f"{field!r} must be a list of {{key, value}} objects")
        out[item["key"]] = "" if item.get("value") is None else str(item["value"])
    return out


def req_str(payload: Mapping[str, Any], field: str, *alternatives: str) -> str:
    """A required string field (MLflow's wording when it is missing)."""
    for name in (field, *alternatives):
        value = payload.get(name)
        if value is not None and value != "":
            if isinstance(value, dict | list):
                raise InvalidArgument(f"Invalid value for parameter '{field}': not a string")
            return str(value)
    raise InvalidArgument(f"Missing value for required parameter '{field}'.")


def opt_int(payload: Mapping[str, Any], field: str) -> int | None:
    """An optional integer field (protobuf int64 may come as a string)."""
    value = payload.get(field)
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool) or isinstance(value, dict | list):
            raise ValueError(value)
        as_float = float(value)
        if not math.isfinite(as_float) or not as_float.is_integer():
            raise ValueError(value)
        return int(as_float)
    except (TypeError, ValueError) as e:
        raise InvalidArgument(
            f"Invalid value {value!r} for parameter '{field}': not an integer"
        ) from e


class ArtifactLocations:
    """Maps locations inside the server's artifact store to ``mlflow-artifacts:/`` URIs.

    The stock client uploads to ``mlflow-artifacts:/<path>`` through the proxy, which writes
    ``<path>`` inside the server's artifact store; locations elsewhere pass through as-is.
    """

    def __init__(self, store_uri: str) -> None:
        roots = [store_uri.rstrip("/")]
        parts = urlsplit(store_uri)
        if parts.scheme == "file":
            roots.append(unquote(parts.path).rstrip("/"))
        self._roots = [r for r in roots if r]

    def to_mlflow(self, location: str) -> str:
        """The URI the mlflow client should use for ``location``."""
        for root in self._roots:
            if location == root:
                return "mlflow-artifacts:/"
            if location.startswith(root + "/"):
                return "mlflow-artifacts:/" + location[len(root) + 1 :]
        return location


def experiment_json(exp: Experiment, locations: ArtifactLocations) -> dict[str, Any]:
    """An experiment as MLflow's ``Experiment`` message."""
    return {
        "experiment_id": exp.experiment_id,
        "name": exp.name,
        "artifact_location": locations.to_mlflow(exp.artifact_location),
        "lifecycle_stage": str(exp.lifecycle_stage),
        "creation_time": exp.creation_time,
        "last_update_time": exp.creation_time,
        "tags": tag_list(exp.tags),
    }


def run_info_json(run: Run, locations: ArtifactLocations) -> dict[str, Any]:
    """A run's ``RunInfo`` message."""
    info: dict[str, Any] = {
        "run_id": run.run_id,
        "run_uuid": run.run_id,
        "run_name": run.name,
        "experiment_id": run.experiment_id,
        "user_id": run.tags.get(USER_TAG, ""),
        "status": str(run.status),
        "start_time": run.start_time,
        "artifact_uri": locations.to_mlflow(run.artifact_uri),
        "lifecycle_stage": str(run.lifecycle_stage or LifecycleStage.ACTIVE),
    }
    if run.end_time is not None:
        info["end_time"] = run.end_time
    return info


def run_json(run: Run, locations: ArtifactLocations) -> dict[str, Any]:
    """A run as MLflow's ``Run`` message (metrics are the latest values)."""
    tags = dict(run.tags)
    tags.setdefault(RUN_NAME_TAG, run.name)
    if run.parent_run_id and "mlflow.parentRunId" not in tags:
        tags["mlflow.parentRunId"] = run.parent_run_id
    metrics = [
        {
            "key": k,
            "value": float_json(m.latest),
            "timestamp": m.latest_timestamp,
            "step": m.latest_step,
        }
        for k, m in run.metrics.items()
    ]
    return {
        "info": run_info_json(run, locations),
        "data": {
            "metrics": metrics,
            "params": tag_list(run.params),
            "tags": tag_list(tags),
        },
        "inputs": {},
    }


def _aliases(aliases: Mapping[str, int]) -> list[dict[str, str]]:
    return [{"alias": a, "version": str(v)} for a, v in sorted(aliases.items())]


def model_version_json(v: ModelVersion) -> dict[str, Any]:
    """A version as MLflow's ``ModelVersion`` message."""
    out: dict[str, Any] = {
        "name": v.name,
        "version": str(v.version),
        "creation_timestamp": v.creation_time,
        "last_updated_timestamp": v.last_updated_time,
        "current_stage": v.stage,
        "description": v.description,
        "source": v.source,
        "status": v.status,
        "tags": tag_list(v.tags),
        "aliases": list(v.aliases),
    }
    if v.run_id:
        out["run_id"] = v.run_id
    return out


def registered_model_json(
    m: RegisteredModel, latest: list[ModelVersion] | None = None
) -> dict[str, Any]:
    """A model as MLflow's ``RegisteredModel`` message."""
    return {
        "name": m.name,
        "creation_timestamp": m.creation_time,
        "last_updated_timestamp": m.last_updated_time,
        "description": m.description,
        "tags": tag_list(m.tags),
        "aliases": _aliases(m.aliases),
        "latest_versions": [model_version_json(v) for v in latest or []],
    }
