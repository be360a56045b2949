"""Artifact references, lineage edges and the pipeline cache."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response

from runyard.entities import ArtifactRef, LineageEdge, NodeKind
from runyard.errors import InvalidArgument
from runyard.server.context import ServerContext, context_of
from runyard.wire import ArtifactRefWire, CacheEntry, LineageEdgeWire

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["lineage"])
Ctx = Annotated[ServerContext, Depends(context_of)]


@router.post("/runs/{run_id}/artifact-refs", status_code=204)
def log_artifact_refs(run_id: str, body: list[ArtifactRefWire], ctx: Ctx) -> Response:
    """Record artifacts on a run (a path logged again is replaced)."""
    refs = [ArtifactRef(r.path, r.digest, r.size, r.uri) for r in body]
    ctx.store.log_artifact_refs(run_id, refs)
    return Response(status_code=204)


@router.get("/runs/{run_id}/artifact-refs")
def list_artifact_refs(run_id: str, ctx: Ctx, prefix: str = "") -> list[ArtifactRefWire]:
    """Artifacts recorded on the run whose path starts with ``prefix``, sorted by path."""
    return [ArtifactRefWire.of(r) for r in ctx.store.list_artifact_refs(run_id, prefix)]


def _kind(value: str) -> NodeKind:
    try:
        return NodeKind(value)
    except ValueError as e:
        kinds = ", ".join(k.value for k in NodeKind)
        raise InvalidArgument(f"lineage node kind must be one of {kinds}, not {value!r}") from e


@router.post("/lineage", status_code=204)
def add_lineage(body: list[LineageEdgeWire], ctx: Ctx) -> Response:
    """Record lineage edges (an edge recorded twice is kept once)."""
    edges = [
        LineageEdge(
            _kind(e.source_kind), e.source_id, _kind(e.target_kind), e.target_id, e.relation
        )
        for e in body
    ]
    ctx.store.add_lineage(edges)
    return Response(status_code=204)


@router.get("/lineage")
def get_lineage(
    node_id: str, ctx: Ctx, direction: Literal["upstream", "downstream", "both"] = "both"
) -> list[LineageEdgeWire]:
    """Edges into, out of, or touching a node."""
    return [LineageEdgeWire.of(e) for e in ctx.store.get_lineage(node_id, direction)]


@router.get("/cache")
def get_cache_entry(key: str, ctx: Ctx) -> CacheEntry:
    """The pipeline cache payload under ``key`` (``payload`` null when absent)."""
    if not ctx.store.supports_cache:
        raise InvalidArgument("this server's store keeps no pipeline cache")
    return CacheEntry(key=key, payload=ctx.store.get_cache_entry(key))


@router.put("/cache", status_code=204)
def put_cache_entry(body: CacheEntry, ctx: Ctx) -> Response:
    """Store a pipeline cache payload, replacing any."""
    if not ctx.store.supports_cache:
        raise InvalidArgument("this server's store keeps no pipeline cache")
    if body.payload is None:
        raise InvalidArgument("a cache entry needs a payload")
    ctx.store.put_cache_entry(body.key, body.payload)
    return Response(status_code=204)
