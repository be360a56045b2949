"""The model registry over the native API: registered models, versions, tags, aliases.

Collections are ``/api/v1/registered-models`` and ``/api/v1/model-versions``; one model is
``/api/v1/registered-model?name=…`` and one version ``/api/v1/model-version?name=…&version=…``
(names may hold ``/``, so they travel in query strings, never as path segments). A store
without a registry answers 501.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from runyard.server.context import ServerContext, context_of
from runyard.server.routes._views import json_response
from runyard.wire import (
    AliasRequest,
    CreateModelVersionRequest,
    CreateRegisteredModelRequest,
    ModelVersionOut,
    ModelVersionPage,
    RegisteredModelOut,
    RegisteredModelPage,
    TagRequest,
    UpdateModelVersionRequest,
    UpdateRegisteredModelRequest,
)

__all__ = ["router"]


def _registry(ctx: Annotated[ServerContext, Depends(context_of)]) -> ServerContext:
    if not ctx.store.supports_registry:
        raise HTTPException(501, "the server's tracking store has no model registry")
    return ctx


router = APIRouter(prefix="/api/v1", tags=["registry"])
Ctx = Annotated[ServerContext, Depends(_registry)]
Name = Annotated[str, Query()]
Version = Annotated[int, Query(ge=0, le=2**31 - 1)]
MaxResults = Annotated[int, Query(ge=1, le=50_000)]

# -- registered models -----------------------------------------------------------------------


@router.post("/registered-models", status_code=201, response_model=RegisteredModelOut)
def create_registered_model(body: CreateRegisteredModelRequest, ctx: Ctx) -> Response:
    """Create a registered model (409 when the name is taken)."""
    model = ctx.store.create_registered_model(body.name, body.description, body.tags)
    return json_response(RegisteredModelOut.of(model), 201)


@router.get("/registered-models", response_model=RegisteredModelPage)
def search_registered_models(
    ctx: Ctx,
    name_like: str | None = None,
    max_results: MaxResults = 100,
    page_token: str | None = None,
) -> Response:
    """Registered models by name; ``name_like`` is a SQL LIKE pattern."""
    page = ctx.store.search_registered_models(name_like, max_results, page_token)
    out = RegisteredModelPage(
        registered_models=[RegisteredModelOut.of(m) for m in page],
        next_page_token=page.next_page_token,
    )
    return json_response(out)


@router.get("/registered-model", response_model=RegisteredModelOut)
def get_registered_model(name: Name, ctx: Ctx) -> Response:
    """One registered model with its tags and aliases."""
    return json_response(RegisteredModelOut.of(ctx.store.get_registered_model(name)))


@router.patch("/registered-model", response_model=RegisteredModelOut)
def update_registered_model(name: Name, body: UpdateRegisteredModelRequest, ctx: Ctx) -> Response:
    """Rename and/or re-describe a model (its versions and aliases follow)."""
    model = ctx.store.update_registered_model(name, body.new_name, body.description)
    return json_response(RegisteredModelOut.of(model))


@router.delete("/registered-model", status_code=204)
def delete_registered_model(name: Name, ctx: Ctx) -> Response:
    """Delete a model with its versions, tags and aliases."""
    ctx.store.delete_registered_model(name)
    return Response(status_code=204)


@router.post("/registered-model/tags", status_code=204)
def set_registered_model_tag(name: Name, body: TagRequest, ctx: Ctx) -> Response:
    """Set (or overwrite) a tag of a model."""
    ctx.store.set_registered_model_tag(name, body.key, body.value)
    return Response(status_code=204)


@router.post("/registered-model/tags/delete", status_code=204)
def delete_registered_model_tag(name: Name, body: TagRequest, ctx: Ctx) -> Response:
    """Remove a tag of a model (404 when it has none by that key)."""
    ctx.store.delete_registered_model_tag(name, body.key)
    return Response(status_code=204)


# -- aliases -----------------------------------------------------------------------------------


@router.put("/registered-model/aliases", status_code=204)
def set_model_alias(name: Name, body: AliasRequest, ctx: Ctx) -> Response:
    """Point an alias at a version, moving it if it points elsewhere."""
    ctx.store.set_model_alias(name, body.alias, body.version)
    return Response(status_code=204)


@router.get("/registered-model/aliases", response_model=ModelVersionOut)
def get_model_version_by_alias(name: Name, alias: Name, ctx: Ctx) -> Response:
    """The version an alias points at."""
    return json_response(ModelVersionOut.of(ctx.store.get_model_version_by_alias(name, alias)))


@router.delete("/registered-model/aliases", status_code=204)
def delete_model_alias(name: Name, alias: Name, ctx: Ctx) -> Response:
    """Remove an alias."""
    ctx.store.delete_model_alias(name, alias)
    return Response(status_code=204)


# -- versions ----------------------------------------------------------------------------------


@router.post("/model-versions", status_code=201, response_model=ModelVersionOut)
def create_model_version(body: CreateModelVersionRequest, ctx: Ctx) -> Response:
    """Add the next version of a model (numbers are never reused)."""
    mv = ctx.store.create_model_version(
        body.name, body.source, body.run_id, body.description, body.tags
    )
    return json_response(ModelVersionOut.of(mv), 201)


@router.get("/model-versions", response_model=ModelVersionPage)
def search_model_versions(
    ctx: Ctx,
    name: str | None = None,
    run_id: str | None = None,
    max_results: MaxResults = 1000,
    page_token: str | None = None,
) -> Response:
    """Versions, newest first, optionally of one model and/or from one run."""
    page = ctx.store.search_model_versions(name, run_id, max_results, page_token)
    out = ModelVersionPage(
        model_versions=[ModelVersionOut.of(v) for v in page],
        next_page_token=page.next_page_token,
    )
    return json_response(out)


@router.get("/model-version", response_model=ModelVersionOut)
def get_model_version(name: Name, version: Version, ctx: Ctx) -> Response:
    """One version."""
    return json_response(ModelVersionOut.of(ctx.store.get_model_version(name, version)))


@router.patch("/model-version", response_model=ModelVersionOut)
def update_model_version(
    name: Name, version: Version, body: UpdateModelVersionRequest, ctx: Ctx
) -> Response:
    """Change a version's description or legacy stage."""
    mv = ctx.store.update_model_version(name, version, body.description, body.stage)
    return json_response(ModelVersionOut.of(mv))


@router.delete("/model-version", status_code=204)
def delete_model_version(name: Name, version: Version, ctx: Ctx) -> Response:
    """Delete a version (its tags and aliases go with it)."""
    ctx.store.delete_model_version(name, version)
    return Response(status_code=204)


@router.post("/model-version/tags", status_code=204)
def set_model_version_tag(name: Name, version: Version, body: TagRequest, ctx: Ctx) -> Response:
    """Set (or overwrite) a tag of a version."""
    ctx.store.set_model_version_tag(name, version, body.key, body.value)
    return Response(status_code=204)


@router.post("/model-version/tags/delete", status_code=204)
def delete_model_version_tag(name: Name, version: Version, body: TagRequest, ctx: Ctx) -> Response:
    """Remove a tag of a version."""
    ctx.store.delete_model_version_tag(name, version, body.key)
    return Response(status_code=204)
