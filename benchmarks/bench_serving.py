"""Serving benchmark: runyard vs ``mlflow models serve`` vs BentoML on one ONNX digits MLP.

All servers run on this machine on loopback, serving the same ONNX file exported from one
PyTorch MLP trained on scikit-learn's digits. The load generator runs in a separate process
(this file with ``--loadgen``; bare asyncio HTTP/1.1 keep-alive connections). Open loop: it
sends single-row requests at fixed rates, every server up at once and the rates interleaved
across them; latency is measured from each request's *scheduled* send time, so a server
that falls behind is charged for the queue it builds (no coordinated omission). Each send is
paced by a Linux timerfd armed for its scheduled time (``_pacer.py``: the loop's epoll wakes
for it to the microsecond, where its own timers wake in whole milliseconds);
``BENCH_PACER=timer`` gives the earlier pacer: up to ``SPIN_MAX_RATE`` it wakes ``SPIN_LEAD``
early on the loop's timer and polls the clock to the scheduled time, above it the timer
alone. Reported:
p50/p99 per rate, the highest rate each server holds with p99 <= 50 ms, and runyard's
throughput with dynamic batching vs without (same server code, ``--max-batch-size 64`` vs
``1``, both up, alternated in rounds) in a closed loop at concurrency 32, with the server's
CPU time per request — for the digits MLP with JSON requests (the issue's figure), the same
with binary tensor data requests (what tritonclient with ``binary_data=True`` and
perf_analyzer send), and a wide MLP (64-2048-2048-10, a few training steps, generated here),
where the model rather than HTTP and JSON dominates a request. The two digits rows also
measure a *floor* in the same rounds: benchmarks/_serving_floor.py, a bare HTTP/1.1 server on
runyard's event loop that reads each request and writes the fixed response runyard gave to
one of them; unbatched ÷ floor is the most batching could gain on any server that handles
each request in Python. The closed-loop client runs on uvloop (``BENCH_CLIENT_UVLOOP=0``:
asyncio's loop) so that the throughput measured is the server's, not the client's; the
open-loop client keeps asyncio's loop. runyard serves on uvloop unless
``RUNYARD_SERVE_UVLOOP=0`` (the floor follows the same setting). Each open-loop point also
says how late the client itself sent (its timer and its share of the CPU) and the latency
counted from the actual send.

    python benchmarks/bench_serving.py --quick

BentoML is looked for as ``$BENTOML_BIN``, ``bentoml`` on PATH, or
``/work/.bentoml-venv/bin/bentoml`` (it lives in its own virtual environment, since it pins
packages runyard does not); it is skipped when absent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import _pacer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
P99_BUDGET_MS = 50.0
WIDE_HIDDEN = (2048, 2048)  # the batching row where the model dominates a request
WIDE_STEPS = 10  # a few training steps: accuracy does not matter to its speed
# open-loop pacing: at rates up to SPIN_MAX_RATE the timer wakes SPIN_LEAD seconds early and
# the pacer polls the clock to the scheduled time (see _open_loop_client)
SPIN_LEAD = 0.0015
SPIN_MAX_RATE = 200
# "timerfd": each open-loop send at its time to the microsecond (_pacer.py, Linux); "timer":
# the loop's timers, polling the clock up to SPIN_MAX_RATE (the pacer of earlier runs)
PACER = os.environ.get("BENCH_PACER", "timerfd")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _train_and_export(
    folder: Path, hidden: tuple[int, ...] = (64,), steps: int = 150, name: str = "runyard-onnx"
) -> tuple[Path, np.ndarray[Any, Any]]:
    """Train an MLP 64-hidden...-10 on digits (full-batch Adam) and save it as ONNX."""
    import torch
    from sklearn.datasets import load_digits

    from runyard.registry import save_model

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    torch.manual_seed(0)
    layers: list[torch.nn.Module] = []
    width = 64
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    net = torch.nn.Sequential(*layers, torch.nn.Linear(width, 10))
    opt = torch.optim.Adam(net.parameters(), lr=0.01 if width <= 64 else 0.001)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        opt.step()
    save_model(net.eval(), folder / name, "onnx", input_example=x[:8])
    return folder / name, x


# -- servers --------------------------------------------------------------------------------


class Server:
    """A server process and how to send it one row."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        port: int,
        ready: str,
        url: str,
        body: Callable[[list[float]], bytes],
        cwd: Path,
        env: dict[str, str],
    ) -> None:
        self.name, self.port, self.url, self.body = name, port, url, body
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait(f"http://127.0.0.1:{port}{ready}")

    def _wait(self, ready: str) -> None:
        import httpx

        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {Path(self.log.name).read_text()[-2000:]}")
            try:
                if httpx.get(ready, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: workers go too
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def _runyard_argv() -> list[str]:
    from runyard.cli.app import app

    if "serve" in {c.name for c in app.registered_commands}:
        return [sys.executable, "-c", "from runyard.cli.app import main; main()", "serve"]
    return [
        sys.executable,
        "-c",
        "import typer; from runyard.cli import serve; a = typer.Typer();"
        " serve.register(a); a.command('noop', hidden=True)(lambda: None); a()",
        "serve",
    ]


def start_runyard(
    model_dir: Path, home: Path, batch: int, model: str = "digits-mlp", tag: str = ""
) -> Server:
    from runyard.registry import register_model, set_alias
    from runyard.tracking.client import Client, start_run

    tracking, artifacts = f"sqlite:///{home / 'runyard.db'}", str(home / "artifacts")
    client = Client(tracking, artifacts)
    try:
        client.store.get_model_version(model, 1)
    except Exception:  # noqa: BLE001 - first start: register the model
        with start_run(experiment="bench", tracking_uri=tracking, artifact_uri=artifacts) as run:
            run.log_artifacts(model_dir, "model")
        mv = register_model(model, run=run, client=client)
        set_alias(model, "champion", mv.version, client=client)
    port = _free_port()
    argv = [
        *_runyard_argv(),
        f"models:/{model}@champion",
        "--http-port",
        str(port),
        "--grpc-port",
        str(_free_port()),
        "--tracking-uri",
        tracking,
        "--artifact-uri",
        artifacts,
        "--max-batch-size",
        str(batch),
        "--max-queue-delay-ms",
        "0",
        "--poll-interval",
        "0",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RUNYARD_HOME": str(home)}

    name = ("runyard" if batch > 1 else "runyard-unbatched") + tag
    return Server(
        name, argv, port, "/v2/health/ready", f"/v2/models/{model}/infer", _json_body, ROOT, env
    )


@dataclass(frozen=True)
class RequestFormat:
    """How a single-row infer request is sent: its body, and its headers beyond Host/length."""

    label: str
    body: Callable[[list[float]], bytes]
    headers: str = ""


def _json_body(row: list[float]) -> bytes:
    return json.dumps(
        {"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": row}]}
    ).encode()


_BINARY_HEAD = json.dumps(
    {
        "inputs": [
            {
                "name": "input",
                "shape": [1, 64],
                "datatype": "FP32",
                "parameters": {"binary_data_size": 64 * 4},
            }
        ],
        "parameters": {"binary_data_output": True},
    }
).encode()


def _binary_body(row: list[float]) -> bytes:
    return _BINARY_HEAD + np.asarray(row, dtype="<f4").tobytes()


JSON_REQUESTS = RequestFormat("JSON", _json_body)
BINARY_REQUESTS = RequestFormat(
    # what tritonclient (binary_data=True) and perf_analyzer send by default: the tensor as
    # raw bytes after a JSON header, and every output asked for as raw bytes too
    "binary tensor data (inputs and outputs)",
    _binary_body,
    "Content-Type: application/octet-stream\r\n"
    f"Inference-Header-Content-Length: {len(_BINARY_HEAD)}\r\n",
)


def start_floor(like: Server, fmt: RequestFormat, folder: Path, tag: str = "") -> Server:
    """The floor server (benchmarks/_serving_floor.py), answering what ``like`` answers.

    One request in ``fmt`` is sent to ``like`` (a runyard server); its whole response, head
    and body, becomes the floor's fixed reply to every request.
    """
    import httpx

    headers = dict(h.split(": ", 1) for h in fmt.headers.split("\r\n") if h)
    got = httpx.post(
        f"http://127.0.0.1:{like.port}{like.url}", content=fmt.body([0.0] * 64), headers=headers
    )
    got.raise_for_status()
    head = "".join(f"{k}: {v}\r\n" for k, v in got.headers.items())
    reply_file = folder / f"floor-reply{tag}.bin"
    reply_file.write_bytes(f"HTTP/1.1 200 OK\r\n{head}\r\n".encode() + got.content)
    port = _free_port()
    argv = [sys.executable, str(ROOT / "benchmarks" / "_serving_floor.py"), str(port)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return Server(f"floor{tag}", [*argv, str(reply_file)], port, "/", like.url, fmt.body, ROOT, env)


def start_mlflow(model_dir: Path, folder: Path) -> Server | None:
    mlflow_bin = shutil.which("mlflow")
    if mlflow_bin is None:
        return None
    import mlflow.onnx
    import onnx

    target = folder / "mlflow-onnx"
    if not target.exists():
        mlflow.onnx.save_model(onnx.load(str(model_dir / "model.onnx")), str(target))
    port = _free_port()
    argv = [
        mlflow_bin,
        "models",
        "serve",
        "-m",
        str(target),
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        "1",
    ]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}

    def body(row: list[float]) -> bytes:
        return json.dumps({"inputs": [row]}).encode()

    return Server("mlflow", argv, port, "/ping", "/invocations", body, folder, env)


_BENTO_SERVICE = """
import os
import numpy as np
import bentoml
import onnxruntime as ort


@bentoml.service(workers=1)
class Digits:
    def __init__(self) -> None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self.sess = ort.InferenceSession(os.environ["BENCH_ONNX"], opts,
                                         providers=["CPUExecutionProvider"])

    @bentoml.api(batchable=True, max_batch_size=64, max_latency_ms=1000)
    def predict(self, input: np.ndarray) -> np.ndarray:
        return self.sess.run(None, {"input": input.astype(np.float32)})[0]
"""


def start_bentoml(model_dir: Path, folder: Path) -> Server | None:
    bento = os.environ.get("BENTOML_BIN") or shutil.which("bentoml")
    if bento is None and Path("/work/.bentoml-venv/bin/bentoml").exists():
        bento = "/work/.bentoml-venv/bin/bentoml"
    if bento is None:
        return None
    svc = folder / "bento"
    svc.mkdir(exist_ok=True)
    (svc / "service.py").write_text(_BENTO_SERVICE)
    port = _free_port()
    env = {
        **os.environ,
        "BENCH_ONNX": str(model_dir / "model.onnx"),
        "DO_NOT_TRACK": "true",
        "BENTOML_DO_NOT_TRACK": "true",
    }

    def body(row: list[float]) -> bytes:
        return json.dumps({"input": [row]}).encode()

    return Server(
        "bentoml",
        [bento, "serve", "service:Digits", "--host", "127.0.0.1", "--port", str(port)],
        port,
        "/readyz",
        "/predict",
        body,
        svc,
        env,
    )


# -- load -----------------------------------------------------------------------------------
#
# The load generator runs in its own process (``--loadgen``) so that it never shares an event
# loop or a GIL with the benchmark's bookkeeping, and it speaks HTTP/1.1 keep-alive through
# bare asyncio protocols: a request costs the client a few microseconds of Python, so on two
# cores the client takes as little CPU from the servers as it can.


class _Conn(asyncio.Protocol):
    """One keep-alive connection: send a request, parse one response, report it."""

    def __init__(self, done: Callable[[_Conn, int], None]) -> None:
        self.done = done
        self.buf = b""
        self.need = -1
        self.status = 0
        self.transport: asyncio.Transport | None = None
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)

    def send(self, request: bytes) -> None:
        assert self.transport is not None
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            if self.need < 0:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = self.buf[:end].lower() + b"\r\n"
                self.status = int(head[9:12])
                # "\r\n" first: not the tail of Inference-Header-Content-Length
                at = head.find(b"\r\ncontent-length:")
                # no Content-Length: a chunked body, read up to its last (empty) chunk
                self.need = int(head[at + 17 : head.find(b"\r\n", at + 2)]) if at >= 0 else -2
                self.buf = self.buf[end + 4 :]
            if self.need == -2:
                last = self.buf.find(b"0\r\n\r\n")
                if last < 0:
                    return
                self.buf = self.buf[last + 5 :]
            elif len(self.buf) < self.need:
                return
            else:
                self.buf = self.buf[self.need :]
            self.need = -1
            self.done(self, self.status)


def _requests(port: int, url: str, bodies: list[bytes], headers: str = "") -> list[bytes]:
    """Whole HTTP requests; ``headers`` (``Name: value\\r\\n`` lines) replace the JSON type."""
    extra = headers or "Content-Type: application/json\r\n"
    return [
        f"POST {url} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}"
        f"Content-Length: {len(b)}\r\n\r\n".encode()
        + b
        for b in bodies
    ]


async def _closed_loop_client(
    port: int, requests: list[bytes], concurrency: int, seconds: float
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    lat: list[float] = []
    errors = 0
    sent: dict[_Conn, float] = {}
    counter = 0
    end = 0.0
    finished = loop.create_future()
    open_conns = concurrency

    def fire(conn: _Conn) -> None:
        nonlocal counter
        counter += 1
        sent[conn] = time.perf_counter()
        conn.send(requests[counter % len(requests)])

    def done(conn: _Conn, status: int) -> None:
        nonlocal errors, open_conns
        now = time.perf_counter()
        if status == 200:
            lat.append(now - sent[conn])
        else:
            errors += 1
        if now < end:
            fire(conn)
        else:
            open_conns -= 1
            if open_conns == 0 and not finished.done():
                finished.set_result(None)

    conns = []
    for _ in range(concurrency):
        _, proto = await loop.create_connection(lambda: _Conn(done), "127.0.0.1", port)
        conns.append(proto)
    start = time.perf_counter()
    cpu = time.process_time()
    end = start + seconds
    for c in conns:
        fire(c)
    await finished
    took = time.perf_counter() - start
    cpu = time.process_time() - cpu
    for c in conns:
        assert c.transport is not None
        c.transport.close()
    arr = np.array(lat) * 1000 if lat else np.array([np.inf])
    return {
        "concurrency": concurrency,
        "rps": len(lat) / took,
        "errors": errors,
        "p50_ms": float(np.percentile(arr, 50)),
        "p99_ms": float(np.percentile(arr, 99)),
        # the load generator's own CPU (it shares the machine with the server)
        "client_cpu_us_per_request": cpu / max(1, len(lat) + errors) * 1e6,
        "client_cpu_share": cpu / took,
    }


async def _open_loop_client(
    port: int, requests: list[bytes], rate: float, seconds: float, spin_lead: float = SPIN_LEAD
) -> dict[str, Any]:
    """Requests at fixed times; latency counted from each request's *scheduled* time."""
    loop = asyncio.get_running_loop()
    n = int(rate * seconds)
    lat: list[float] = []
    from_send: list[float] = []  # latency from the moment the request was written
    late: list[float] = []  # how late the client itself sent each request (its timer, its CPU)
    errors = 0
    idle: list[_Conn] = []
    scheduled: dict[_Conn, tuple[float, float]] = {}
    left = n
    finished = loop.create_future()
    if n == 0:
        finished.set_result(None)

    def done(conn: _Conn, status: int) -> None:
        nonlocal errors, left
        if status == 200:
            now = time.perf_counter()
            at, sent = scheduled.pop(conn)
            lat.append(now - at)
            from_send.append(now - sent)
        else:
            scheduled.pop(conn)
            errors += 1
        idle.append(conn)
        left -= 1
        if left == 0 and not finished.done():
            finished.set_result(None)

    def fail(_: Any) -> None:
        nonlocal errors, left
        errors += 1
        left -= 1
        if left == 0 and not finished.done():
            finished.set_result(None)

    async def connect_and_send(i: int, at: float) -> None:
        try:
            _, conn = await loop.create_connection(lambda: _Conn(done), "127.0.0.1", port)
        except OSError as e:
            fail(e)
            return
        scheduled[conn] = (at, time.perf_counter())
        conn.send(requests[i % len(requests)])

    def fire(i: int, at: float) -> None:
        now = time.perf_counter()
        late.append(now - at)
        if not idle:  # every pooled connection is busy: open one more
            pending.append(loop.create_task(connect_and_send(i, at)))
            return
        conn = idle.pop()
        scheduled[conn] = (at, now)
        conn.send(requests[i % len(requests)])

    def fire_on_time(i: int, at: float) -> None:
        # the last stretch before a send: poll the clock once per pass of the loop, so
        # answers to earlier requests are still read while it waits (no blocking spin)
        if time.perf_counter() < at:
            loop.call_soon(fire_on_time, i, at)
        else:
            fire(i, at)

    pending: list[asyncio.Task[None]] = []
    for _ in range(min(64, n)):  # a warm pool, so the first requests pay no TCP handshake
        _, c = await loop.create_connection(lambda: _Conn(done), "127.0.0.1", port)
        idle.append(c)
    # every send is a timer callback at its scheduled time: no task per request. The loop's
    # timers wake through epoll in whole milliseconds (up to ~1 ms late, more when the CPU
    # is busy); at low rates the timer wakes SPIN_LEAD early and the pacer polls the clock
    # to the exact time. At high rates it does not: polling would take CPU from the server.
    stop_pacing: Callable[[], None] | None = None
    if PACER == "timerfd" and _pacer.available():  # every send on time, without polling
        start = time.perf_counter() + 0.05
        stop_pacing = _pacer.pace(loop, [start + i / rate for i in range(n)], fire)
        pacer = "timerfd"
    else:
        spin = spin_lead > 0 and rate <= SPIN_MAX_RATE
        lead = spin_lead if spin else 0.0
        start_loop = loop.time() + 0.05
        start = time.perf_counter() + (start_loop - loop.time())
        for i in range(n):
            loop.call_at(
                start_loop + i / rate - lead, fire_on_time if spin else fire, i, start + i / rate
            )
        pacer = f"timer + clock polling for the last {lead * 1e3:g} ms" if spin else "timer"
    cpu = time.process_time()
    try:
        await asyncio.wait_for(finished, timeout=30)
    except TimeoutError:
        errors += left
    cpu = time.process_time() - cpu
    if stop_pacing is not None:
        stop_pacing()
    for c in [*idle, *scheduled]:
        assert c.transport is not None
        c.transport.close()
    arr = np.array(lat) * 1000 if lat else np.array([np.inf])
    sent = np.array(from_send) * 1000 if from_send else np.array([np.inf])
    lag = np.array(late) * 1000 if late else np.array([0.0])
    return {
        "rate": rate,
        "requests": n,
        "errors": errors,
        "p50_ms": float(np.percentile(arr, 50)),
        "p99_ms": float(np.percentile(arr, 99)),
        "achieved_rps": len(lat) / seconds,
        # the parts of the latency above: the client's own lateness in sending, and the
        # time from the actual send to the answer (the server, the kernel, the scheduler)
        "client_send_late_p50_ms": float(np.percentile(lag, 50)),
        "client_send_late_p99_ms": float(np.percentile(lag, 99)),
        "from_send_p50_ms": float(np.percentile(sent, 50)),
        "from_send_p99_ms": float(np.percentile(sent, 99)),
        # the load generator's own CPU over the run (a share of one core), and its pacing
        "client_cpu_share": cpu / seconds,
        "pacer": pacer,
    }


def _loadgen_main(spec: dict[str, Any]) -> None:
    """``--loadgen``: run one load in this (separate) process and print its JSON result."""
    bodies = [bytes.fromhex(b) for b in spec["bodies"]]
    requests = _requests(spec["port"], spec["url"], bodies, spec.get("headers", ""))
    if spec["mode"] == "closed":
        coro = _closed_loop_client(spec["port"], requests, spec["concurrency"], spec["seconds"])
    else:
        coro = _open_loop_client(
            spec["port"], requests, spec["rate"], spec["seconds"], spec.get("spin_lead", SPIN_LEAD)
        )
    factory = asyncio.new_event_loop
    if spec["mode"] == "closed" and os.environ.get("BENCH_CLIENT_UVLOOP", "1") != "0":
        # the closed loop measures the server's throughput: a cheaper client (uvloop's C
        # transports) leaves the server more of the machine. The open loop keeps asyncio's
        # own loop, whose timers its pacing was tuned on.
        try:
            import uvloop

            factory = uvloop.new_event_loop
        except ImportError:
            pass
    with asyncio.Runner(loop_factory=factory) as runner:
        print(json.dumps(runner.run(coro)))  # noqa: T201


def _load(
    server: Server, rows: list[list[float]], fmt: RequestFormat | None = None, **spec: Any
) -> dict[str, Any]:
    """Run the load generator in a child process against ``server``.

    ``fmt``: the request bodies and headers to send instead of the server's own JSON body.
    """
    body, headers = (server.body, "") if fmt is None else (fmt.body, fmt.headers)
    spec = {
        **spec,
        "port": server.port,
        "url": server.url,
        "headers": headers,
        "bodies": [body(r).hex() for r in rows[:256]],
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--loadgen", f.name],
            capture_output=True,
            text=True,
            check=True,
            timeout=spec["seconds"] + 120,
        )
    finally:
        os.unlink(f.name)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _server_cpu(server: Server) -> float:
    """CPU seconds used so far by the server process and its children."""
    import psutil

    proc = psutil.Process(server.proc.pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def _sweep(
    servers: list[Server], rows: list[list[float]], rates: list[float], seconds: float
) -> dict[str, list[dict[str, Any]]]:
    """Every rate on every server in turn, all servers up at once.

    Interleaving (rate 1 on each server, then rate 2 on each ...) exposes every server to
    the same stretches of background load on a shared machine, rather than giving one
    server a quiet minute and the next a busy one.
    """
    out: dict[str, list[dict[str, Any]]] = {s.name: [] for s in servers}
    live = list(servers)
    for server in live:
        _load(server, rows, mode="open", rate=50, seconds=1.0)  # warm-up
    for rate in rates:
        for server in list(live):
            res = _load(server, rows, mode="open", rate=rate, seconds=seconds)
            out[server.name].append(res)
            print(
                f"  {server.name:18s} {rate:7.0f}/s  p50 {res['p50_ms']:8.2f} ms  "  # noqa: T201
                f"p99 {res['p99_ms']:8.2f} ms  errors {res['errors']}  "
                f"(client sent late p50/p99 {res['client_send_late_p50_ms']:.3f}/"
                f"{res['client_send_late_p99_ms']:.2f} ms, {res['pacer']}, "
                f"{res['client_cpu_share']:.3f} of a core; "
                f"from send p99 {res['from_send_p99_ms']:.2f} ms)"
            )
            points = out[server.name]
            over = [p["p99_ms"] > P99_BUDGET_MS or p["errors"] for p in points[-2:]]
            if res["p99_ms"] > 10 * P99_BUDGET_MS or (len(over) == 2 and all(over)):
                live.remove(server)  # past saturation; higher rates only queue more
    return out


def _held(points: list[dict[str, Any]]) -> float:
    ok = [p["rate"] for p in points if p["p99_ms"] <= P99_BUDGET_MS and p["errors"] == 0]
    return max(ok, default=0.0)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--loadgen":
        _loadgen_main(json.loads(Path(sys.argv[2]).read_text()))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="short runs, fewer rates")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "serving.json"))
    ap.add_argument(
        "--peers",
        default="mlflow,bentoml",
        help="comma-separated peers to run beside runyard (mlflow, bentoml; '' for none)",
    )
    ap.add_argument(
        "--no-wide", action="store_true", help="skip the batching row with the wide MLP"
    )
    ap.add_argument(
        "--no-binary",
        action="store_true",
        help="skip the batching row with binary tensor data requests",
    )
    ap.add_argument("--skip-sweep", action="store_true", help="only the closed-loop batching rows")
    args = ap.parse_args()
    peers = {p.strip() for p in args.peers.split(",") if p.strip()}
    # a server leaves the sweep once it is past saturation, so the high rates cost little
    rates = (
        [50, 100, 200, 400, 800, 1600, 3200]
        if args.quick
        else [50, 100, 200, 400, 800, 1600, 2400, 3200, 4800, 6400]
    )
    seconds = 3.0 if args.quick else 10.0
    cl_seconds = 5.0 if args.quick else 15.0
    results: dict[str, Any] = {
        "rates": rates,
        "seconds_per_rate": seconds,
        "p99_budget_ms": P99_BUDGET_MS,
        "cpu_count": os.cpu_count(),
        "servers": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        folder = Path(tmp)
        model_dir, x = _train_and_export(folder)
        rows = [r.tolist() for r in x[:512]]
        starters = [
            ("runyard", lambda: start_runyard(model_dir, folder / "home", 64)),
            ("mlflow", lambda: start_mlflow(model_dir, folder)),
            ("bentoml", lambda: start_bentoml(model_dir, folder)),
        ]
        started: list[Server] = []
        try:
            for name, start in [] if args.skip_sweep else starters:
                if name != "runyard" and name not in peers:
                    results["servers"][name] = {"skipped": "not asked for (--peers)"}
                    continue
                try:
                    server = start()
                except RuntimeError as e:
                    results["servers"][name] = {"skipped": str(e)[-500:]}
                    continue
                if server is None:
                    results["servers"][name] = {"skipped": "not installed"}
                    continue
                started.append(server)
            if started:
                print(f"open-loop sweep, interleaved: {[s.name for s in started]}")  # noqa: T201
            for name, points in _sweep(started, rows, rates, seconds).items():
                results["servers"][name] = {
                    "points": points,
                    "max_rate_p99_le_50ms": _held(points),
                    "held_the_highest_rate_tried": _held(points) == rates[-1],
                }
        finally:
            for server in started:
                server.stop()
        pair = [start_runyard(model_dir, folder / "home", b) for b in (64, 1)]
        try:
            print("closed loop, concurrency 32: runyard batched vs unbatched, floor")  # noqa: T201
            results["concurrency32"] = _batching(pair, rows, cl_seconds, floor_dir=folder)
            if not args.no_binary:
                print(f"closed loop, concurrency 32, {BINARY_REQUESTS.label}")  # noqa: T201
                results["concurrency32_binary"] = _batching(
                    pair, rows, cl_seconds, BINARY_REQUESTS, floor_dir=folder
                )
        finally:
            for server in pair:
                server.stop()
        if not args.no_wide:
            # the same comparison where the model, not HTTP and JSON, dominates a request
            wide_dir, _ = _train_and_export(folder, WIDE_HIDDEN, WIDE_STEPS, "wide-onnx")
            print(f"closed loop, concurrency 32, wide MLP {WIDE_HIDDEN}")  # noqa: T201
            wide = [
                start_runyard(wide_dir, folder / "home", b, "digits-wide", "-wide") for b in (64, 1)
            ]
            try:
                results["concurrency32_wide"] = {
                    "hidden": list(WIDE_HIDDEN),
                    "training_steps": WIDE_STEPS,
                    **_batching(wide, rows, cl_seconds),
                }
            finally:
                for server in wide:
                    server.stop()
    _report(results)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")  # noqa: T201


def _batching(
    pair: list[Server],
    rows: list[list[float]],
    cl_seconds: float,
    fmt: RequestFormat = JSON_REQUESTS,
    floor_dir: Path | None = None,
) -> dict[str, Any]:
    """Closed loop at concurrency 32 on a batched and an unbatched server, in rounds.

    Both servers are up at once and alternate, so both see the same background load. With
    ``floor_dir``, a floor server (benchmarks/_serving_floor.py: read a request, write a
    fixed reply) joins the rounds: unbatched ÷ floor server CPU per request is the most any
    batching could gain on a server that handles each request in Python. The caller stops
    ``pair``.
    """
    throughput: dict[str, Any] = {"requests": fmt.label}
    rounds = 3
    servers = list(pair)
    floor = None
    try:
        if floor_dir is not None:
            tag = "-binary" if fmt is not JSON_REQUESTS else ""
            floor = start_floor(pair[0], fmt, floor_dir, tag)
            servers.append(floor)
        for server in servers:
            _load(server, rows, fmt, mode="closed", concurrency=32, seconds=1.0)  # warm-up
        runs: dict[str, list[dict[str, Any]]] = {s.name: [] for s in servers}
        for _ in range(rounds):
            for server in servers:
                cpu = _server_cpu(server)
                res = _load(
                    server, rows, fmt, mode="closed", concurrency=32, seconds=cl_seconds / rounds
                )
                served = res["rps"] * cl_seconds / rounds
                res["server_cpu_us_per_request"] = (_server_cpu(server) - cpu) / served * 1e6
                runs[server.name].append(res)
        for name, rs in runs.items():
            res = {
                "concurrency": 32,
                "rounds": rs,
                "rps": float(np.mean([r["rps"] for r in rs])),
                "p50_ms": float(np.median([r["p50_ms"] for r in rs])),
                "p99_ms": float(np.median([r["p99_ms"] for r in rs])),
                "errors": sum(r["errors"] for r in rs),
                "server_cpu_us_per_request": float(
                    np.mean([r["server_cpu_us_per_request"] for r in rs])
                ),
                # the load generator shares the machine: its CPU per request and its share
                # of one core (when the pair needs more than the machine has, the ratio of
                # the two servers is compressed for reasons that are not the server's)
                "client_cpu_us_per_request": float(
                    np.mean([r["client_cpu_us_per_request"] for r in rs])
                ),
                "client_cpu_share": float(np.mean([r["client_cpu_share"] for r in rs])),
            }
            key = name.removesuffix("-wide").removesuffix("-binary")
            throughput[key] = res
            print(  # noqa: T201
                f"  {name:18s} {res['rps']:8.0f} req/s  p50 {res['p50_ms']:.2f} ms  "
                f"p99 {res['p99_ms']:.2f} ms  server CPU "
                f"{res['server_cpu_us_per_request']:.0f} us/request  load generator "
                f"{res['client_cpu_us_per_request']:.0f} us/request "
                f"({res['client_cpu_share']:.2f} of a core)  "
                f"(rounds: {', '.join(str(round(r['rps'])) for r in rs)})"
            )
    finally:
        if floor is not None:
            floor.stop()
    b, u = throughput["runyard"]["rps"], throughput["runyard-unbatched"]["rps"]
    cb = throughput["runyard"]["server_cpu_us_per_request"]
    cu = throughput["runyard-unbatched"]["server_cpu_us_per_request"]
    throughput["speedup"] = b / u if u else None
    throughput["server_cpu_ratio"] = cu / cb if cb else None
    if floor is not None:
        cf = throughput["floor"]["server_cpu_us_per_request"]
        # the most batching could give: every request costing the server no more than the
        # floor's read-and-write (throughput and server CPU per request, both vs unbatched)
        throughput["floor_speedup"] = throughput["floor"]["rps"] / u if u else None
        throughput["floor_server_cpu_ratio"] = cu / cf if cf else None
    return throughput


def _report(results: dict[str, Any]) -> None:
    servers = {k: v for k, v in results["servers"].items() if "points" in v}
    print("\np99 latency (ms) at each offered rate, single-row requests")  # noqa: T201
    print("rate/s  " + "".join(f"{n:>14s}" for n in servers))  # noqa: T201
    for i, rate in enumerate(results["rates"]):
        cells = []
        for v in servers.values():
            pts = v["points"]
            cells.append(f"{pts[i]['p99_ms']:14.2f}" if i < len(pts) else f"{'-':>14s}")
        print(f"{rate:6d}  " + "".join(cells))  # noqa: T201
    print("\nhighest rate held with p99 <= 50 ms:")  # noqa: T201
    for n, v in servers.items():
        print(f"  {n:10s} {v['max_rate_p99_le_50ms']:.0f}/s")  # noqa: T201
    ry = servers.get("runyard")
    peers = {n: v for n, v in servers.items() if n != "runyard"}
    ratios = {}
    if ry:
        for i, p in enumerate(ry["points"]):
            best = [v["points"][i]["p99_ms"] for v in peers.values() if i < len(v["points"])]
            if best:
                ratios[p["rate"]] = p["p99_ms"] / min(best)
        sent = {}
        for i, p in enumerate(ry["points"]):
            best = [
                v["points"][i]["from_send_p99_ms"] for v in peers.values() if i < len(v["points"])
            ]
            if best:
                sent[p["rate"]] = p["from_send_p99_ms"] / min(best)
        print("\nrunyard p99 / best peer p99 at equal load (goal <= 0.5):")  # noqa: T201
        for rate, r in ratios.items():
            print(f"  {rate:6d}/s  {r:6.2f}   (from the actual send: {sent[rate]:.2f})")  # noqa: T201
        results["p99_from_send_ratio_vs_best_peer"] = sent
    results["p99_ratio_vs_best_peer"] = ratios
    rows = (
        ("concurrency32", "digits MLP, JSON requests (the issue's figure)"),
        ("concurrency32_binary", "digits MLP, binary tensor data requests"),
        ("concurrency32_wide", "wide MLP, JSON requests"),
    )
    for key, label in rows:
        c32 = results.get(key)
        if not c32:
            continue
        b, u = c32["runyard"]["rps"], c32["runyard-unbatched"]["rps"]
        cb = c32["runyard"]["server_cpu_us_per_request"]
        cu = c32["runyard-unbatched"]["server_cpu_us_per_request"]
        print(
            f"\nconcurrency 32, {label}: batched {b:.0f} req/s, unbatched {u:.0f} req/s, "  # noqa: T201
            f"ratio {c32['speedup']:.2f}x (goal >= 2x); server CPU per request "
            f"{cb:.0f} vs {cu:.0f} us ({c32['server_cpu_ratio']:.2f}x less with batching); "
            f"load generator {c32['runyard']['client_cpu_share']:.2f} / "
            f"{c32['runyard-unbatched']['client_cpu_share']:.2f} of a core"
        )
        if "floor" in c32:
            f = c32["floor"]
            print(
                f"  floor (read a request, write a fixed reply): {f['rps']:.0f} req/s, "  # noqa: T201
                f"server CPU {f['server_cpu_us_per_request']:.0f} us/request; ceiling for "
                f"batching here: unbatched/floor {c32['floor_server_cpu_ratio']:.2f}x by server "
                f"CPU, {c32['floor_speedup']:.2f}x by throughput"
            )
    results["batching_speedup"] = results["concurrency32"]["speedup"]
    results["batching_server_cpu_ratio"] = results["concurrency32"]["server_cpu_ratio"]


if __name__ == "__main__":
    main()
