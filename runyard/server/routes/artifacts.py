"""``/api/v1/artifacts``: the artifact proxy — streamed upload and download, list, delete.

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
from runyard.wire import ArtifactFile, ArtifactListing

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/artifacts", tags=["artifacts"])
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


@router.delete("/{path:path}", status_code=204)
def delete_artifact(path: str, ctx: Ctx) -> Response:
    """Delete the file at ``path``, or every file under the folder ``path``."""
    ctx.artifacts.delete(path)
    return Response(status_code=204)
