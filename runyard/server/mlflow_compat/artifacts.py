"""The ``mlflow-artifacts`` proxy: how the stock client uploads, lists and downloads files.

Paths are relative to the server's artifact store root (the client sends the part of
``mlflow-artifacts:/<path>`` after the scheme); every path passes the store's traversal
checks, so ``..``, absolute paths and encoded variants are refused with 400. Listing answers
the immediate children of a folder (files and folders, MLflow's ``FileInfo``), and
``artifacts/list`` answers the same for a run's artifact folder.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from runyard.artifacts.base import ArtifactStore
from runyard.errors import NotFound
from runyard.server.context import context_of
from runyard.server.mlflow_compat.convert import ArtifactLocations, req_str
from runyard.server.streaming import iter_file, put_request_body

__all__ = ["router"]

_PREFIX = "/api/2.0/mlflow-artifacts/artifacts"


def _children(store: ArtifactStore, folder: str) -> list[dict[str, Any]]:
    folder = folder.strip("/")
    files = store.list(folder) if folder else store.list()
    seen: dict[str, dict[str, Any]] = {}
    base = f"{folder}/" if folder else ""
    for info in files:
        if not info.path.startswith(base):
            continue  # the folder is itself a file: MLflow lists nothing
        rest = info.path[len(base) :]
        head, sep, _ = rest.partition("/")
        if sep:
            seen.setdefault(head, {"path": head, "is_dir": True})
        else:
            seen[head] = {"path": head, "is_dir": False, "file_size": info.size}
    return [seen[k] for k in sorted(seen)]


async def upload(path: str, request: Request) -> JSONResponse:
    """``PUT /api/2.0/mlflow-artifacts/artifacts/<path>``: stream the body into the store."""
    await put_request_body(request, context_of(request).artifacts, path)
    return JSONResponse({})


async def download(path: str, request: Request) -> StreamingResponse:
    """``GET /api/2.0/mlflow-artifacts/artifacts/<path>``: stream a file."""
    store = context_of(request).artifacts
    info = await run_in_threadpool(store.info, path)
    fileobj = await run_in_threadpool(store.open, path)
    return StreamingResponse(
        iter_file(fileobj),
        media_type="application/octet-stream",
        headers={"Content-Length": str(info.size)},
    )


async def delete(path: str, request: Request) -> JSONResponse:
    """``DELETE /api/2.0/mlflow-artifacts/artifacts/<path>``: a file or a whole folder."""
    await run_in_threadpool(context_of(request).artifacts.delete, path)
    return JSONResponse({})


async def list_files(request: Request) -> JSONResponse:
    """``GET /api/2.0/mlflow-artifacts/artifacts?path=<folder>``."""
    folder = request.query_params.get("path", "")
    files = await run_in_threadpool(_children, context_of(request).artifacts, folder)
    return JSONResponse({"files": files})


async def list_run_artifacts(request: Request) -> JSONResponse:
    """``GET /api/2.0/mlflow/artifacts/list?run_id=&path=``: a run's artifact folder."""
    ctx = context_of(request)
    params = dict(request.query_params)
    run = await run_in_threadpool(ctx.store.get_run, req_str(params, "run_id", "run_uuid"))
    where = ArtifactLocations(ctx.artifacts.uri).to_mlflow(run.artifact_uri)
    if not where.startswith("mlflow-artifacts:/"):
        raise NotFound(f"run {run.run_id} keeps its artifacts outside this server: {where}")
    root = where.removeprefix("mlflow-artifacts:/").strip("/")
    sub = params.get("path", "").strip("/")
    folder = f"{root}/{sub}" if sub else root
    files = await run_in_threadpool(_children, ctx.artifacts, folder)
    for f in files:
        f["path"] = f"{sub}/{f['path']}" if sub else f["path"]
    return JSONResponse({"root_uri": where, "files": files})


def router() -> APIRouter:
    """The artifact proxy routes."""
    r = APIRouter(tags=["mlflow"])
    r.add_api_route(_PREFIX, list_files, methods=["GET"], name="mlflow_artifacts_list")
    r.add_api_route(f"{_PREFIX}/{{path:path}}", upload, methods=["PUT"], name="mlflow_upload")
    r.add_api_route(f"{_PREFIX}/{{path:path}}", download, methods=["GET"], name="mlflow_download")
    r.add_api_route(f"{_PREFIX}/{{path:path}}", delete, methods=["DELETE"], name="mlflow_delete")
    r.add_api_route(
        "/api/2.0/mlflow/artifacts/list", list_run_artifacts, methods=["GET"], name="mlflow_ls"
    )
    return r
