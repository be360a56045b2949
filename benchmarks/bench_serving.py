"""Serving benchmark: runyard vs ``mlflow models serve`` vs BentoML on one ONNX digits MLP.

All servers run on this machine on loopback, serving the same ONNX file exported from one
PyTorch MLP trained on scikit-learn's digits. An open-loop load generator (aiohttp) sends
single-row requests at fixed rates; latency is measured from each request's *scheduled*
send time, so a server that falls behind is charged for the queue it builds (no coordinated
omission). Reported: p50/p99 per rate, the highest rate each server holds with p99 <= 50 ms,
and runyard's throughput with dynamic batching vs without at concurrency 32.

    python benchmarks/bench_serving.py --quick

BentoML is looked for as ``$BENTOML_BIN`` or ``bentoml`` on PATH (it may live in its own
virtual environment, since it pins packages runyard does not); it is skipped when absent.
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
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
P99_BUDGET_MS = 50.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _train_and_export(folder: Path) -> tuple[Path, np.ndarray[Any, Any]]:
    import torch
    from sklearn.datasets import load_digits

    from runyard.registry import save_model

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        opt.step()
    save_model(net.eval(), folder / "runyard-onnx", "onnx", input_example=x[:8])
    return folder / "runyard-onnx", x


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


def start_runyard(model_dir: Path, home: Path, batch: int) -> Server:
    from runyard.registry import register_model, set_alias
    from runyard.tracking.client import Client, start_run

    tracking, artifacts = f"sqlite:///{home / 'runyard.db'}", str(home / "artifacts")
    client = Client(tracking, artifacts)
    try:
        client.store.get_model_version("digits-mlp", 1)
    except Exception:  # noqa: BLE001 - first start: register the model
        with start_run(experiment="bench", tracking_uri=tracking, artifact_uri=artifacts) as run:
            run.log_artifacts(model_dir, "model")
        mv = register_model("digits-mlp", run=run, client=client)
        set_alias("digits-mlp", "champion", mv.version, client=client)
    port = _free_port()
    argv = [
        *_runyard_argv(),
        "models:/digits-mlp@champion",
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

    def body(row: list[float]) -> bytes:
        return json.dumps(
            {"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": row}]}
        ).encode()

    name = "runyard" if batch > 1 else "runyard-unbatched"
    return Server(
        name, argv, port, "/v2/health/ready", "/v2/models/digits-mlp/infer", body, ROOT, env
    )


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


async def _open_loop(
    server: Server, rows: list[list[float]], rate: float, seconds: float
) -> dict[str, Any]:
    import aiohttp

    n = int(rate * seconds)
    bodies = [server.body(rows[i % len(rows)]) for i in range(n)]
    url = f"http://127.0.0.1:{server.port}{server.url}"
    latencies: list[float] = []
    errors = 0
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(30)) as s:

        async def one(i: int, scheduled: float) -> None:
            nonlocal errors
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                async with s.post(
                    url, data=bodies[i], headers={"content-type": "application/json"}
                ) as r:
                    await r.read()
                    if r.status != 200:
                        errors += 1
                        return
            except (TimeoutError, aiohttp.ClientError):
                errors += 1
                return
            latencies.append((time.perf_counter() - scheduled) * 1000)

        start = time.perf_counter() + 0.2
        await asyncio.gather(*(one(i, start + i / rate) for i in range(n)))
    lat = np.array(latencies) if latencies else np.array([np.inf])
    return {
        "rate": rate,
        "requests": n,
        "errors": errors,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "achieved_rps": len(latencies) / seconds,
    }


async def _closed_loop(
    server: Server, rows: list[list[float]], concurrency: int, seconds: float
) -> dict[str, Any]:
    import aiohttp

    url = f"http://127.0.0.1:{server.port}{server.url}"
    bodies = [server.body(r) for r in rows[:256]]
    done, errors = 0, 0
    lat: list[float] = []
    end = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:

        async def worker(k: int) -> None:
            nonlocal done, errors
            i = k
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                async with s.post(
                    url, data=bodies[i % len(bodies)], headers={"content-type": "application/json"}
                ) as r:
                    await r.read()
                    if r.status == 200:
                        done += 1
                        lat.append((time.perf_counter() - t0) * 1000)
                    else:
                        errors += 1
                i += concurrency

        await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return {
        "concurrency": concurrency,
        "rps": done / seconds,
        "errors": errors,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
    }


def _sweep(
    server: Server, rows: list[list[float]], rates: list[float], seconds: float
) -> list[dict[str, Any]]:
    out = []
    asyncio.run(_open_loop(server, rows, 50, 1.0))  # warm-up
    for rate in rates:
        res = asyncio.run(_open_loop(server, rows, rate, seconds))
        out.append(res)
        print(
            f"  {server.name:18s} {rate:7.0f}/s  p50 {res['p50_ms']:8.2f} ms  "  # noqa: T201
            f"p99 {res['p99_ms']:8.2f} ms  errors {res['errors']}"
        )
        if res["p99_ms"] > 10 * P99_BUDGET_MS:
            break  # far past saturation; higher rates only queue more
    return out


def _held(points: list[dict[str, Any]]) -> float:
    ok = [p["rate"] for p in points if p["p99_ms"] <= P99_BUDGET_MS and p["errors"] == 0]
    return max(ok, default=0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="short runs, fewer rates")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "serving.json"))
    args = ap.parse_args()
    rates = (
        [50, 100, 200, 400, 600, 900] if args.quick else [50, 100, 200, 400, 600, 800, 1200, 1600]
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
        for name, start in starters:
            print(f"open-loop sweep: {name}")  # noqa: T201
            try:
                server = start()
            except RuntimeError as e:
                results["servers"][name] = {"skipped": str(e)[-500:]}
                continue
            if server is None:
                results["servers"][name] = {"skipped": "not installed"}
                continue
            try:
                points = _sweep(server, rows, rates, seconds)
                results["servers"][name] = {"points": points, "max_rate_p99_le_50ms": _held(points)}
            finally:
                server.stop()
        print("closed loop, concurrency 32: runyard batched vs unbatched")  # noqa: T201
        throughput = {}
        for batch in (64, 1):
            server = start_runyard(model_dir, folder / "home", batch)
            try:
                asyncio.run(_closed_loop(server, rows, 32, 1.0))
                throughput[server.name] = asyncio.run(_closed_loop(server, rows, 32, cl_seconds))
            finally:
                server.stop()
        results["concurrency32"] = throughput
    _report(results)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")  # noqa: T201


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
        print("\nrunyard p99 / best peer p99 at equal load (goal <= 0.5):")  # noqa: T201
        for rate, r in ratios.items():
            print(f"  {rate:6d}/s  {r:6.2f}")  # noqa: T201
    results["p99_ratio_vs_best_peer"] = ratios
    c32 = results["concurrency32"]
    b, u = c32["runyard"]["rps"], c32["runyard-unbatched"]["rps"]
    results["batching_speedup"] = b / u if u else None
    print(
        f"\nconcurrency 32: batched {b:.0f} req/s, unbatched {u:.0f} req/s, "  # noqa: T201
        f"ratio {b / u:.2f}x (goal >= 2x)"
    )


if __name__ == "__main__":
    main()
