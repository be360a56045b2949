"""The floor of the serving benchmark: an HTTP/1.1 server that only reads and answers.

It reads each request whole (head, ``Content-Length`` body; keep-alive) and writes a fixed
reply — the whole response runyard gave to one infer request — on the event loop runyard's
server runs on (:func:`runyard.serving.server.loop_factory`, so ``RUNYARD_SERVE_UVLOOP``
applies to both). No parsing beyond the framing, no JSON, no model, no metrics: its server
CPU per request is what any server that handles each request in Python pays here, so
unbatched CPU per request ÷ floor CPU per request bounds what batching can gain.

Run: ``python benchmarks/_serving_floor.py PORT RESPONSE_FILE`` (binds 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from runyard.serving.server import loop_factory


class _Floor(asyncio.Protocol):
    def __init__(self, reply: bytes) -> None:
        self.reply, self.buf = reply, b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        while (end := buf.find(b"\r\n\r\n")) >= 0:
            head = buf[:end].lower() + b"\r\n"
            at = head.find(b"\r\ncontent-length:")  # not Inference-Header-Content-Length
            size = int(head[at + 17 : head.find(b"\r\n", at + 2)]) if at >= 0 else 0
            if len(buf) < end + 4 + size:
                break
            buf = buf[end + 4 + size :]
            assert self.transport is not None
            self.transport.write(self.reply)
        self.buf = buf


async def _main(port: int, reply: bytes) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Floor(reply), "127.0.0.1", port)
    await server.serve_forever()


if __name__ == "__main__":
    reply = Path(sys.argv[2]).read_bytes()  # a whole HTTP response: status, headers, body
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(_main(int(sys.argv[1]), reply))
