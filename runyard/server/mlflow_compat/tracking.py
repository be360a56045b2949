"""MLflow's tracking API: experiments, runs, params, metrics, tags, search, metric history."""

from __future__ import annotations

import time
from array import array
from typing import Any

import numpy as np
from fastapi import APIRouter

from runyard.entities import LifecycleStage, Metric, RunStatus
from runyard.errors import InvalidArgument, NotFound
from runyard.server.context import ServerContext
from runyard.server.ingest import log_columns
from runyard.server.mlflow_compat._handler import add_routes
from runyard.server.mlflow_compat.convert import (
    RUN_NAME_TAG,
    USER_TAG,
    ArtifactLocations,
    experiment_json,
    float_json,
    opt_int,
    req_str,
    run_info_json,
    run_json,
    tags_from,
)
from runyard.server.mlflow_compat.experiment_search import search_experiments
from runyard.tracking.filter import decode_page_token, encode_page_token
from runyard.tracking.store.base import ViewType
from runyard.wire.arrow_batch import Columns, group_by_key

__all__ = ["router"]

Fields = dict[str, Any]
_VIEWS: dict[str, ViewType] = {
    "ACTIVE_ONLY": LifecycleStage.ACTIVE,
    "DELETED_ONLY": LifecycleStage.DELETED,
    "ALL": None,
    "1": LifecycleStage.ACTIVE,
    "2": LifecycleStage.DELETED,
    "3": None,
}
_HISTORY_PAGE = 25_000


def _locations(ctx: ServerContext) -> ArtifactLocations:
    return ArtifactLocations(ctx.artifacts.uri)


def view_of(p: Fields, field: str) -> ViewType:
    """MLflow's ``ViewType`` (name or number) as a store view."""
    raw = str(p.get(field) or "ACTIVE_ONLY").upper()
    if raw not in _VIEWS:
        raise InvalidArgument(f"Invalid value {raw!r} for parameter '{field}'")
    return _VIEWS[raw]


# -- experiments ----------------------------------------------------------------------------


def create_experiment(ctx: ServerContext, p: Fields) -> Fields:
    """``experiments/create``."""
    name = req_str(p, "name")
    location = p.get("artifact_location") or None
    return {"experiment_id": ctx.store.create_experiment(name, location, tags_from(p))}


def get_experiment(ctx: ServerContext, p: Fields) -> Fields:
    """``experiments/get``."""
    exp = ctx.store.get_experiment(req_str(p, "experiment_id"))
    return {"experiment": experiment_json(exp, _locations(ctx))}


def get_experiment_by_name(ctx: ServerContext, p: Fields) -> Fields:
    """``experiments/get-by-name`` (RESOURCE_DOES_NOT_EXIST when missing)."""
    name = req_str(p, "experiment_name")
    exp = ctx.store.get_experiment_by_name(name)
    if exp is None:
        raise NotFound(f"Could not find experiment with name '{name}'")
    return {"experiment": experiment_json(exp, _locations(ctx))}


def experiments_search(ctx: ServerContext, p: Fields) -> Fields:
    """``experiments/search``: name/tag filters, order_by, paging."""
    exps, token = search_experiments(ctx.store, p, view_of(p, "view_type"))
    out: Fields = {"experiments": [experiment_json(e, _locations(ctx)) for e in exps]}
    if token:
        out["next_page_token"] = token
    return out


def delete_experiment(ctx: ServerContext, p: Fields) -> Fields:
    """``experiments/delete``."""
    ctx.store.delete_experiment(req_str(p, "experiment_id"))
    return {}


def restore_experiment(ctx: ServerContext, p: Fields) -> Fields:
    """``experiments/restore``."""
    ctx.store.restore_experiment(req_str(p, "experiment_id"))
    return {}


def update_experiment(ctx: ServerContext, p: Fields) -> Fields:
    """``experiments/update`` (rename)."""
    exp_id = req_str(p, "experiment_id")
    if p.get("new_name"):
        ctx.store.rename_experiment(exp_id, str(p["new_name"]))
    return {}


def set_experiment_tag(ctx: ServerContext, p: Fields) -> Fields:
    """``experiments/set-experiment-tag``."""
    value = "" if p.get("value") is None else str(p["value"])
    ctx.store.set_experiment_tag(req_str(p, "experiment_id"), req_str(p, "key"), value)
    return {}


# -- runs -----------------------------------------------------------------------------------


def create_run(ctx: ServerContext, p: Fields) -> Fields:
    """``runs/create``."""
    tags = tags_from(p)
    name = p.get("run_name") or tags.get(RUN_NAME_TAG) or None
    if p.get("user_id"):
        tags.setdefault(USER_TAG, str(p["user_id"]))
    parent = tags.get("mlflow.parentRunId") or None
    run = ctx.store.create_run(
        str(p.get("experiment_id") or "0"),
        name=name,
        start_time=opt_int(p, "start_time"),
        tags=tags,
        parent_run_id=parent,
    )
    if RUN_NAME_TAG not in run.tags:
        ctx.store.log_batch(run.run_id, tags={RUN_NAME_TAG: run.name})
        run = ctx.store.get_run(run.run_id)
    return {"run": run_json(run, _locations(ctx))}


def _run_id(p: Fields) -> str:
    return req_str(p, "run_id", "run_uuid")


def get_run(ctx: ServerContext, p: Fields) -> Fields:
    """``runs/get``."""
    return {"run": run_json(ctx.store.get_run(_run_id(p)), _locations(ctx))}


def update_run(ctx: ServerContext, p: Fields) -> Fields:
    """``runs/update``: status, end time, name."""
    status = None
    if p.get("status"):
        raw = str(p["status"]).upper()
        if raw not in RunStatus.__members__:
            raise InvalidArgument(f"Invalid value {p['status']!r} for parameter 'status'")
        status = RunStatus(raw)
    run_id = _run_id(p)
    name = p.get("run_name") or None
    run = ctx.store.update_run(run_id, status, opt_int(p, "end_time"), name)
    if name:
        ctx.store.log_batch(run_id, tags={RUN_NAME_TAG: str(name)})
    return {"run_info": run_info_json(run, _locations(ctx))}


def delete_run(ctx: ServerContext, p: Fields) -> Fields:
    """``runs/delete``."""
    ctx.store.delete_run(_run_id(p))
    return {}


def restore_run(ctx: ServerContext, p: Fields) -> Fields:
    """``runs/restore``."""
    ctx.store.restore_run(_run_id(p))
    return {}


def _metric(m: Any) -> Metric:
    if not isinstance(m, dict):
        raise InvalidArgument("each metric must be an object {key, value, timestamp, step}")
    key = req_str(m, "key")
    if "value" not in m or m["value"] is None:
        raise InvalidArgument(f"Missing value for required parameter 'value' of metric {key!r}")
    try:
        value = float(m["value"])
    except (TypeError, ValueError) as e:
        raise InvalidArgument(f"metric {key!r}: value must be a number") from e
    stamp = opt_int(m, "timestamp")
    return Metric(
        key, value, opt_int(m, "step") or 0, int(time.time() * 1000) if stamp is None else stamp
    )


def log_metric(ctx: ServerContext, p: Fields) -> Fields:
    """``runs/log-metric``."""
    ctx.store.log_batch(_run_id(p), [_metric(p)])
    ctx.telemetry.add_points(1)
    return {}


def log_param(ctx: ServerContext, p: Fields) -> Fields:
    """``runs/log-parameter``."""
    value = "" if p.get("value") is None else str(p["value"])
    ctx.store.log_batch(_run_id(p), params={req_str(p, "key"): value})
    return {}


def set_tag(ctx: ServerContext, p: Fields) -> Fields:
    """``runs/set-tag``."""
    key = req_str(p, "key")
    value = "" if p.get("value") is None else str(p["value"])
    run_id = _run_id(p)
    ctx.store.log_batch(run_id, tags={key: value})
    if key == RUN_NAME_TAG and value:
        ctx.store.update_run(run_id, name=value)
    return {}


def delete_tag(ctx: ServerContext, p: Fields) -> Fields:
    """``runs/delete-tag``."""
    ctx.store.delete_tag(_run_id(p), req_str(p, "key"))
    return {}


def _pairs(p: Fields, field: str) -> dict[str, str]:
    return tags_from(p, field)


def _plain_columns(raw: list[Any]) -> Columns | None:
    """The common batch (string keys, numeric values, int steps and timestamps) as columns.

    None when any metric needs :func:`_metric`'s checks and conversions (strings, missing
    fields, other types), which then also produce the error message.
    """
    try:
        keys = [m["key"] for m in raw]
        values = array("d", [m["value"] for m in raw])
        steps = [m.get("step", 0) for m in raw]
        stamps = [m["timestamp"] for m in raw]
    except (TypeError, KeyError, AttributeError, OverflowError):
        return None
    if not all(type(k) is str and k for k in keys):
        return None
    if not all(type(s) is int for s in steps) or not all(type(t) is int for t in stamps):
        return None
    try:
        step_col, stamp_col = array("q", steps), array("q", stamps)
    except OverflowError:
        return None
    return group_by_key(
        keys,
        np.frombuffer(step_col, np.int64),
        np.frombuffer(values, np.float64),
        np.frombuffer(stamp_col, np.int64),
    )


def _metric_columns(raw: list[Any]) -> Columns:
    plain = _plain_columns(raw)
    if plain is not None:
        return plain
    metrics = [_metric(m) for m in raw]
    try:
        return group_by_key(
            [m.key for m in metrics],
            np.array([m.step for m in metrics], np.int64),
            np.array([m.value for m in metrics], np.float64),
            np.array([m.timestamp for m in metrics], np.int64),
        )
    except OverflowError as e:
        raise InvalidArgument("a metric step or timestamp does not fit in 64 bits") from e


def log_batch(ctx: ServerContext, p: Fields) -> Fields:
    """``runs/log-batch``: metrics go to the store as columns (``runyard.server.ingest``)."""
    raw = p.get("metrics") or []
    if not isinstance(raw, list):
        raise InvalidArgument("'metrics' must be a list")
    columns = _metric_columns(raw)
    run_id = _run_id(p)
    n = log_columns(ctx.store, run_id, columns, _pairs(p, "params"), _pairs(p, "tags"))
    ctx.telemetry.add_points(n)
    return {}


def log_inputs(ctx: ServerContext, p: Fields) -> Fields:
    """``runs/log-inputs``: datasets are accepted and recorded as a tag per dataset name."""
    ctx.store.get_run(_run_id(p))
    return {}


def search_runs(ctx: ServerContext, p: Fields) -> Fields:
    """``runs/search``: MLflow's filter syntax, order_by, page tokens."""
    raw_ids = p.get("experiment_ids") or []
    ids = [str(i) for i in (raw_ids if isinstance(raw_ids, list) else [raw_ids])]
    order = p.get("order_by") or []
    order_by = [str(o) for o in (order if isinstance(order, list) else [order])]
    page = ctx.store.search_runs(
        ids,
        str(p.get("filter") or ""),
        order_by,
        opt_int(p, "max_results") or 1000,
        p.get("page_token") or None,
        view_of(p, "run_view_type"),
    )
    out: Fields = {"runs": [run_json(r, _locations(ctx)) for r in page]}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


def get_metric_history(ctx: ServerContext, p: Fields) -> Fields:
    """``metrics/get-history``, paged."""
    series = ctx.store.get_metric_history(_run_id(p), req_str(p, "metric_key"))
    size = min(opt_int(p, "max_results") or _HISTORY_PAGE, _HISTORY_PAGE)
    start = 0
    if p.get("page_token"):
        start = decode_page_token(str(p["page_token"])).get("o", 0)
        if not isinstance(start, int) or start < 0:
            raise InvalidArgument("invalid page token")
    end = min(start + size, len(series))
    metrics = [
        {"key": series.key, "value": float_json(v), "timestamp": t, "step": s}
        for s, v, t in zip(
            series.steps[start:end], series.values[start:end], series.timestamps[start:end],
            strict=True,
        )
    ]  # fmt: skip
    out: Fields = {"metrics": metrics}
    if end < len(series):
        out["next_page_token"] = encode_page_token({"o": end})
    return out


def search_logged_models(ctx: ServerContext, p: Fields) -> Fields:
    """``logged-models/search``: MLflow 3 logged models are not kept; always empty."""
    return {"models": []}


def router() -> APIRouter:
    """The tracking routes under ``/api/2.0/mlflow`` (and the ``/ajax-api`` alias)."""
    r = APIRouter()
    routes = [
        ("experiments/create", ["POST"], create_experiment),
        ("experiments/get", ["GET"], get_experiment),
        ("experiments/get-by-name", ["GET"], get_experiment_by_name),
        ("experiments/search", ["POST", "GET"], experiments_search),
        ("experiments/delete", ["POST"], delete_experiment),
        ("experiments/restore", ["POST"], restore_experiment),
        ("experiments/update", ["POST"], update_experiment),
        ("experiments/set-experiment-tag", ["POST"], set_experiment_tag),
        ("runs/create", ["POST"], create_run),
        ("runs/get", ["GET"], get_run),
        ("runs/update", ["POST"], update_run),
        ("runs/delete", ["POST"], delete_run),
        ("runs/restore", ["POST"], restore_run),
        ("runs/log-metric", ["POST"], log_metric),
        ("runs/log-parameter", ["POST"], log_param),
        ("runs/set-tag", ["POST"], set_tag),
        ("runs/delete-tag", ["POST"], delete_tag),
        ("runs/log-batch", ["POST"], log_batch),
        ("runs/log-inputs", ["POST"], log_inputs),
        ("runs/search", ["POST"], search_runs),
        ("metrics/get-history", ["GET"], get_metric_history),
        ("logged-models/search", ["POST"], search_logged_models),
    ]
    add_routes(r, [(f"/api/2.0/mlflow/{path}", m, fn) for path, m, fn in routes])
    return r
