"""A tracking "server" that does no work: the ceiling any server can reach on this machine.

It speaks just enough of MLflow's REST API for ``benchmarks/bench_server.py``'s ingest
client: ``runs/create`` answers a fixed run, every other request ``{}``. It reads each
request whole (headers and body, HTTP/1.1 keep-alive) and stores nothing, so the points per
second that the stock ``mlflow`` client reaches against it are bounded by the client's own
CPU time and the machine's cores alone. A real server can only be slower.

Run: ``python benchmarks/_null_server.py PORT`` (binds 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import json
import sys

RUN = json.dumps(
    {
        "run": {
            "info": {
                "run_id": "0" * 32,
                "run_uuid": "0" * 32,
                "experiment_id": "0",
                "run_name": "null",
                "user_id": "bench",
                "status": "RUNNING",
                "start_time": 1,
                "artifact_uri": "/nonexistent",
                "lifecycle_stage": "active",
            },
            "data": {},
            "inputs": {},
        }
    }
).encode()


def _response(body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buf) < end + 4 + length:
                return
            del self.buf[: end + 4 + length]
            path = head.split(" ", 2)[1]
            assert self.transport is not None
            self.transport.write(_response(RUN if path.endswith("/runs/create") else b"{}"))


async def _serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Protocol, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1])))
