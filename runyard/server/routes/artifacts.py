"""``/api/v1/artifacts``: the artifact proxy — streamed upload, download, info, list, move, delete.

:class:`runyard.artifacts.http.HttpArtifactStore` is the client of these routes.

Paths are logical paths inside the server's artifact store; every one goes through the
store's path checks, so ``..``, absolute paths, encoded traversal and symlinks out of the
root are refused with 400 before anything is touched.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from runyard.server.context import ServerContext, context_of
from runyard.server.streaming import iter_file, put_request_body
from runyard.wire import ArtifactDeleted, ArtifactFile, ArtifactListing, ArtifactMoveRequest

__all__ = ["moves_router", "router"]

router = APIRouter(prefix="/api/v1/artifacts", tags=["artifacts"])
moves_router = APIRouter(prefix="/api/v1/artifact-moves", tags=["artifacts"])
Ctx = Annotated[ServerContext, Depends(context_of)]


@router.get("")
def list_artifacts(ctx: Ctx, prefix: str = "") -> ArtifactListing:
    """Every file at or under the folder ``prefix``, sorted by path."""
    files = ctx.artifacts.list(prefix)
    return ArtifactListing(files=[ArtifactFile(path=f.path, size=f.size) for f in files])


@router.put(
    "/{path:path}",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            "required": True,
        }
    },
)
async def upload_artifact(path: str, request: Request, ctx: Ctx) -> ArtifactFile:
    """Stream the request body into the store at ``path`` (replacing any file there)."""
    info = await put_request_body(request, ctx.artifacts, path)
    return ArtifactFile(path=info.path, size=info.size)


@router.head("/{path:path}", responses={200: {"headers": {"Content-Length": {}}}})
def artifact_info(path: str, ctx: Ctx) -> Response:
    """The size of the file at ``path`` as ``Content-Length``, without its content (404: none)."""
    info = ctx.artifacts.info(path)
    return Response(status_code=200, headers={"Content-Length": str(info.size)})


@router.get(
    "/{path:path}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download_artifact(path: str, ctx: Ctx) -> StreamingResponse:
    """Stream the file at ``path``."""
    info = await run_in_threadpool(ctx.artifacts.info, path)
    fileobj = await run_in_threadpool(ctx.artifacts.open, path)
    return StreamingResponse(
        iter_file(fileobj),
        media_type="application/octet-stream",
        headers={"Content-Length": str(info.size)},
    )


@router.delete("/{path:path}")
def delete_artifact(path: str, ctx: Ctx, missing_ok: bool = False) -> ArtifactDeleted:
    """Delete the file at ``path``, or every file under the folder ``path``; says how many.

    404 when nothing is there, unless ``missing_ok`` is true (then 0 files are deleted).
    """
    return ArtifactDeleted(deleted=ctx.artifacts.delete(path, missing_ok=missing_ok))


@moves_router.post("")
def move_artifact(body: ArtifactMoveRequest, ctx: Ctx) -> ArtifactFile:
    """Move the file at ``src`` to ``dst`` (replacing ``dst``) inside the artifact store."""
    info = ctx.artifacts.move(body.src, body.dst)
    return ArtifactFile(path=info.path, size=info.size)
