"""Bridges between ASGI request/response streams and the blocking artifact store API.

An upload is handed to :meth:`ArtifactStore.put_stream` as a file object whose ``read``
pulls the next chunk of the request body from the event loop, so a multi-GB upload never
sits in memory; a download iterates the store's file object in :data:`CHUNK_SIZE` pieces.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, BinaryIO

import anyio.from_thread
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from runyard.artifacts.base import CHUNK_SIZE, ArtifactInfo, ArtifactStore

__all__ = ["iter_file", "put_request_body"]


class _PullReader(io.RawIOBase):
    """A read-only raw stream whose bytes come from ``pull()`` (b"" at the end)."""

    def __init__(self, pull: Callable[[], bytes]) -> None:
        self._pull = pull
        self._buffer = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._buffer and not self._done:
            chunk = self._pull()
            if chunk:
                self._buffer = chunk
            else:
                self._done = True
        n = min(len(buffer), len(self._buffer))
        buffer[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


async def put_request_body(request: Request, store: ArtifactStore, path: str) -> ArtifactInfo:
    """Stream the body of ``request`` into ``store`` at ``path`` (atomically, in chunks)."""
    chunks: AsyncIterator[bytes] = request.stream().__aiter__()

    async def next_chunk() -> bytes:
        try:
            return await chunks.__anext__()
        except StopAsyncIteration:
            return b""

    def work() -> ArtifactInfo:
        raw = _PullReader(lambda: anyio.from_thread.run(next_chunk))
        reader: BinaryIO = io.BufferedReader(raw, CHUNK_SIZE)
        return store.put_stream(reader, path)

    return await run_in_threadpool(work)


def iter_file(fileobj: BinaryIO) -> Iterator[bytes]:
    """Yield ``fileobj`` in chunks and close it at the end (or when the client goes away)."""
    try:
        while chunk := fileobj.read(CHUNK_SIZE):
            yield chunk
    finally:
        fileobj.close()
