"""``/api/v1/experiments``: create, get, list, rename, tag, delete, restore."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from runyard.errors import NotFound
from runyard.server.context import ServerContext, context_of
from runyard.server.routes._views import json_response, parse_view
from runyard.wire import (
    CreateExperimentRequest,
    ExperimentOut,
    ExperimentPage,
    RenameExperimentRequest,
    TagRequest,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/experiments", tags=["experiments"])
Ctx = Annotated[ServerContext, Depends(context_of)]


@router.post("", status_code=201)
def create_experiment(body: CreateExperimentRequest, ctx: Ctx) -> dict[str, str]:
    """Create an experiment; answers its id."""
    exp_id = ctx.store.create_experiment(body.name, body.artifact_location, body.tags)
    return {"experiment_id": exp_id}


@router.get("", response_model=ExperimentPage)
def search_experiments(
    ctx: Ctx,
    view: Literal["active", "deleted", "all"] = "active",
    max_results: Annotated[int, Query(ge=1, le=50_000)] = 1000,
    page_token: str | None = None,
) -> Response:
    """List experiments by creation order, one page at a time."""
    page = ctx.store.search_experiments(parse_view(view), max_results, page_token)
    out = ExperimentPage(
        experiments=[ExperimentOut.of(e) for e in page], next_page_token=page.next_page_token
    )
    return json_response(out)


@router.get("/by-name", response_model=ExperimentOut)
def get_experiment_by_name(name: str, ctx: Ctx) -> Response:
    """The experiment with that name (404 when there is none)."""
    found = ctx.store.get_experiment_by_name(name)
    if found is None:
        raise NotFound(f"no experiment is named {name!r}")
    return json_response(ExperimentOut.of(found))


@router.get("/{experiment_id}", response_model=ExperimentOut)
def get_experiment(experiment_id: str, ctx: Ctx) -> Response:
    """One experiment."""
    return json_response(ExperimentOut.of(ctx.store.get_experiment(experiment_id)))


@router.patch("/{experiment_id}", status_code=204)
def rename_experiment(experiment_id: str, body: RenameExperimentRequest, ctx: Ctx) -> Response:
    """Rename an experiment."""
    ctx.store.rename_experiment(experiment_id, body.name)
    return Response(status_code=204)


@router.post("/{experiment_id}/tags", status_code=204)
def set_experiment_tag(experiment_id: str, body: TagRequest, ctx: Ctx) -> Response:
    """Set (or overwrite) an experiment tag."""
    ctx.store.set_experiment_tag(experiment_id, body.key, body.value)
    return Response(status_code=204)


@router.delete("/{experiment_id}", status_code=204)
def delete_experiment(experiment_id: str, ctx: Ctx) -> Response:
    """Soft-delete an experiment and hide its runs."""
    ctx.store.delete_experiment(experiment_id)
    return Response(status_code=204)


@router.post("/{experiment_id}/restore", status_code=204)
def restore_experiment(experiment_id: str, ctx: Ctx) -> Response:
    """Undo a delete."""
    ctx.store.restore_experiment(experiment_id)
    return Response(status_code=204)
