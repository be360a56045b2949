"""MLflow's model registry API: registered models, versions, tags, aliases, legacy stages.

Filters: ``name = '...'``, ``name LIKE '...'`` / ``ILIKE`` for models; ``name = '...'`` and
``run_id = '...'`` (joined by ``AND``) for versions.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter

from runyard.entities.registry import ModelVersion
from runyard.errors import InvalidArgument, NotFound
from runyard.server.context import ServerContext
from runyard.server.mlflow_compat._handler import add_routes
from runyard.server.mlflow_compat.convert import (
    model_version_json,
    opt_int,
    registered_model_json,
    req_str,
    tags_from,
)

__all__ = ["router"]

Fields = dict[str, Any]
_CLAUSE = re.compile(
    r"""^\s*(?P<field>name|run_id|source_path|tags?\.(?:`[^`]+`|[\w.\-]+))\s*
    (?P<op>!=|=|LIKE|ILIKE)\s*(?P<q>['"])(?P<v>.*?)(?P=q)\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
TagTest = tuple[str, str, str]


def _clauses(text: str) -> list[tuple[str, str, str]]:
    if not text.strip():
        return []
    out = []
    for clause in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE):
        m = _CLAUSE.match(clause)
        if m is None:
            raise InvalidArgument(f"unsupported registry filter clause {clause.strip()!r}")
        field = m["field"]
        if field.lower().startswith("tag"):
            field = "tag:" + field.split(".", 1)[1].strip("`")
        else:
            field = field.lower()
        out.append((field, m["op"].upper(), m["v"]))
    return out


def _split_tags(clauses: list[TagTest]) -> tuple[list[TagTest], list[TagTest]]:
    tags = [c for c in clauses if c[0].startswith("tag:")]
    return [c for c in clauses if not c[0].startswith("tag:")], tags


def _tags_match(tags: Any, tests: list[TagTest]) -> bool:
    for field, op, value in tests:
        if op not in ("=", "!="):
            raise InvalidArgument("tag filters compare with = or !=")
        have = tags.get(field[4:])
        if (have == value) != (op == "="):
            return False
    return True


def _version(p: Fields) -> int:
    v = opt_int(p, "version")
    if v is None:
        raise InvalidArgument("Missing value for required parameter 'version'.")
    return v


def _latest(ctx: ServerContext, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
    versions = ctx.store.search_model_versions(name=name, max_results=50_000).items
    best: dict[str, ModelVersion] = {}
    for v in versions:
        if stages and v.stage.lower() not in {s.lower() for s in stages}:
            continue
        if v.stage not in best or v.version > best[v.stage].version:
            best[v.stage] = v
    return sorted(best.values(), key=lambda v: v.version)


def create_registered_model(ctx: ServerContext, p: Fields) -> Fields:
    """``registered-models/create``."""
    m = ctx.store.create_registered_model(
        req_str(p, "name"), str(p.get("description") or ""), tags_from(p)
    )
    return {"registered_model": registered_model_json(m)}


def get_registered_model(ctx: ServerContext, p: Fields) -> Fields:
    """``registered-models/get``."""
    m = ctx.store.get_registered_model(req_str(p, "name"))
    return {"registered_model": registered_model_json(m, _latest(ctx, m.name))}


def search_registered_models(ctx: ServerContext, p: Fields) -> Fields:
    """``registered-models/search``."""
    like = None
    exact = None
    plain, tag_tests = _split_tags(_clauses(str(p.get("filter") or "")))
    for field, op, value in plain:
        if field != "name":
            raise InvalidArgument("registered models filter only on name")
        if op == "=":
            exact = value
        else:
            like = value
    if exact is not None:
        try:
            found = [ctx.store.get_registered_model(exact)]
        except NotFound:
            found = []
        token = None
    else:
        page = ctx.store.search_registered_models(
            like, opt_int(p, "max_results") or 100, p.get("page_token") or None
        )
        found, token = list(page.items), page.next_page_token
    found = [m for m in found if _tags_match(m.tags, tag_tests)]
    out: Fields = {
        "registered_models": [registered_model_json(m, _latest(ctx, m.name)) for m in found]
    }
    if token:
        out["next_page_token"] = token
    return out


def rename_registered_model(ctx: ServerContext, p: Fields) -> Fields:
    """``registered-models/rename``."""
    m = ctx.store.update_registered_model(req_str(p, "name"), new_name=req_str(p, "new_name"))
    return {"registered_model": registered_model_json(m)}


def update_registered_model(ctx: ServerContext, p: Fields) -> Fields:
    """``registered-models/update`` (description)."""
    desc = p.get("description")
    m = ctx.store.update_registered_model(
        req_str(p, "name"), description=None if desc is None else str(desc)
    )
    return {"registered_model": registered_model_json(m)}


def delete_registered_model(ctx: ServerContext, p: Fields) -> Fields:
    """``registered-models/delete``."""
    ctx.store.delete_registered_model(req_str(p, "name"))
    return {}


def set_registered_model_tag(ctx: ServerContext, p: Fields) -> Fields:
    """``registered-models/set-tag``."""
    value = "" if p.get("value") is None else str(p["value"])
    ctx.store.set_registered_model_tag(req_str(p, "name"), req_str(p, "key"), value)
    return {}


def delete_registered_model_tag(ctx: ServerContext, p: Fields) -> Fields:
    """``registered-models/delete-tag``."""
    ctx.store.delete_registered_model_tag(req_str(p, "name"), req_str(p, "key"))
    return {}


def get_latest_versions(ctx: ServerContext, p: Fields) -> Fields:
    """``registered-models/get-latest-versions``: the newest version per stage."""
    name = req_str(p, "name")
    ctx.store.get_registered_model(name)
    stages = p.get("stages") or []
    stages = stages if isinstance(stages, list) else [stages]
    return {"model_versions": [model_version_json(v) for v in _latest(ctx, name, stages)]}


def set_alias(ctx: ServerContext, p: Fields) -> Fields:
    """``POST registered-models/alias``."""
    ctx.store.set_model_alias(req_str(p, "name"), req_str(p, "alias"), _version(p))
    return {}


def delete_alias(ctx: ServerContext, p: Fields) -> Fields:
    """``DELETE registered-models/alias``."""
    ctx.store.delete_model_alias(req_str(p, "name"), req_str(p, "alias"))
    return {}


def get_by_alias(ctx: ServerContext, p: Fields) -> Fields:
    """``GET registered-models/alias``."""
    v = ctx.store.get_model_version_by_alias(req_str(p, "name"), req_str(p, "alias"))
    return {"model_version": model_version_json(v)}


def create_model_version(ctx: ServerContext, p: Fields) -> Fields:
    """``model-versions/create``."""
    run_id = p.get("run_id") or None
    if run_id:
        ctx.store.get_run(str(run_id))
    v = ctx.store.create_model_version(
        req_str(p, "name"),
        req_str(p, "source"),
        None if run_id is None else str(run_id),
        str(p.get("description") or ""),
        tags_from(p),
    )
    return {"model_version": model_version_json(v)}


def get_model_version(ctx: ServerContext, p: Fields) -> Fields:
    """``model-versions/get``."""
    return {
        "model_version": model_version_json(
            ctx.store.get_model_version(req_str(p, "name"), _version(p))
        )
    }


def update_model_version(ctx: ServerContext, p: Fields) -> Fields:
    """``model-versions/update`` (description)."""
    desc = p.get("description")
    v = ctx.store.update_model_version(
        req_str(p, "name"), _version(p), description=None if desc is None else str(desc)
    )
    return {"model_version": model_version_json(v)}


def transition_stage(ctx: ServerContext, p: Fields) -> Fields:
    """``model-versions/transition-stage`` (legacy stages; optional archiving of others)."""
    name, version, stage = req_str(p, "name"), _version(p), req_str(p, "stage")
    v = ctx.store.update_model_version(name, version, stage=stage)
    archive = str(p.get("archive_existing_versions", "")).lower() == "true"
    if archive and v.stage in ("Staging", "Production"):
        for other in ctx.store.search_model_versions(name=name, max_results=50_000):
            if other.version != version and other.stage == v.stage:
                ctx.store.update_model_version(name, other.version, stage="Archived")
    return {"model_version": model_version_json(ctx.store.get_model_version(name, version))}


def delete_model_version(ctx: ServerContext, p: Fields) -> Fields:
    """``model-versions/delete``."""
    ctx.store.delete_model_version(req_str(p, "name"), _version(p))
    return {}


def search_model_versions(ctx: ServerContext, p: Fields) -> Fields:
    """``model-versions/search``."""
    name = run_id = None
    plain, tag_tests = _split_tags(_clauses(str(p.get("filter") or "")))
    for field, op, value in plain:
        if op != "=" or field not in ("name", "run_id"):
            raise InvalidArgument("model versions filter on name = '...' and run_id = '...'")
        name, run_id = (value, run_id) if field == "name" else (name, value)
    page = ctx.store.search_model_versions(
        name, run_id, opt_int(p, "max_results") or 1000, p.get("page_token") or None
    )
    found = [v for v in page if _tags_match(v.tags, tag_tests)]
    out: Fields = {"model_versions": [model_version_json(v) for v in found]}
    if page.next_page_token:
        out["next_page_token"] = page.next_page_token
    return out


def set_model_version_tag(ctx: ServerContext, p: Fields) -> Fields:
    """``model-versions/set-tag``."""
    value = "" if p.get("value") is None else str(p["value"])
    ctx.store.set_model_version_tag(req_str(p, "name"), _version(p), req_str(p, "key"), value)
    return {}


def delete_model_version_tag(ctx: ServerContext, p: Fields) -> Fields:
    """``model-versions/delete-tag``."""
    ctx.store.delete_model_version_tag(req_str(p, "name"), _version(p), req_str(p, "key"))
    return {}


def get_download_uri(ctx: ServerContext, p: Fields) -> Fields:
    """``model-versions/get-download-uri``."""
    return {"artifact_uri": ctx.store.get_model_version(req_str(p, "name"), _version(p)).source}


def router() -> APIRouter:
    """The registry routes under ``/api/2.0/mlflow``."""
    r = APIRouter()
    routes = [
        ("registered-models/create", ["POST"], create_registered_model),
        ("registered-models/get", ["GET"], get_registered_model),
        ("registered-models/search", ["GET", "POST"], search_registered_models),
        ("registered-models/rename", ["POST"], rename_registered_model),
        ("registered-models/update", ["PATCH"], update_registered_model),
        ("registered-models/delete", ["DELETE"], delete_registered_model),
        ("registered-models/set-tag", ["POST"], set_registered_model_tag),
        ("registered-models/delete-tag", ["DELETE"], delete_registered_model_tag),
        ("registered-models/get-latest-versions", ["POST", "GET"], get_latest_versions),
        ("registered-models/alias", ["POST"], set_alias),
        ("registered-models/alias", ["DELETE"], delete_alias),
        ("registered-models/alias", ["GET"], get_by_alias),
        ("model-versions/create", ["POST"], create_model_version),
        ("model-versions/get", ["GET"], get_model_version),
        ("model-versions/update", ["PATCH"], update_model_version),
        ("model-versions/transition-stage", ["POST"], transition_stage),
        ("model-versions/delete", ["DELETE"], delete_model_version),
        ("model-versions/search", ["GET", "POST"], search_model_versions),
        ("model-versions/set-tag", ["POST"], set_model_version_tag),
        ("model-versions/delete-tag", ["DELETE"], delete_model_version_tag),
        ("model-versions/get-download-uri", ["GET"], get_download_uri),
    ]
    add_routes(r, [(f"/api/2.0/mlflow/{path}", m, fn) for path, m, fn in routes])
    return r
