"""Tracking server: runyard vs `mlflow server` (SQLite backends), side by side in one run.

Measures, against both servers started here on loopback:

1. ingest with the stock ``mlflow`` client (``log_batch`` of 1000 points), 1 and 4 client
   processes -> points/s;
2. ingest with runyard's native REST client (columnar ``log_batch``) -> points/s, compared
   with the mlflow client against MLflow;
3. ``runs/search`` ordered by a metric over N runs, through MLflow's REST endpoint on both
   servers (same request). Populated directly: runyard through ``SqlTrackingStore`` (one
   ``create_run`` + ``log_batch`` per run), MLflow through its own ``SqlAlchemyStore`` API
   (``create_run`` + ``log_batch``), both into the database file each server reads;
4. history of R runs x S steps downsampled for a chart: runyard ``/api/v1/metrics/histories``
   with ``max_points=1000`` vs MLflow's ``get-history-bulk-interval`` (``max_results=1000``).

``--quick`` uses small sizes; the full run uses 100k runs and 100 runs x 100k steps.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _harness import QUIET_ENV, print_table, save

CLI = (
    "import typer; from runyard.cli import server, tokens; "
    "app = typer.Typer(); server.register(app); app.add_typer(tokens.app, name='tokens'); app()"
)


Servers = dict[str, tuple[subprocess.Popen[bytes], str, str]]
BULK = "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"


def _ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:  # held together, so the two servers never get the same port
        s.bind(("127.0.0.1", 0))
    ports = [int(s.getsockname()[1]) for s in socks]
    for s in socks:
        s.close()
    return ports


def _wait(url: str, path: str) -> None:
    for _ in range(600):
        try:
            if httpx.get(url + path, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def start_servers(root: Path) -> dict[str, tuple[subprocess.Popen[bytes], str, str]]:
    env = {**os.environ, **QUIET_ENV}
    out = {}
    p1, p2 = _ports(2)
    ry_db = root / "runyard.db"
    ry = subprocess.Popen(
        [sys.executable, "-c", CLI, "server", "--backend-store-uri", f"sqlite:///{ry_db}",
         "--artifact-uri", str(root / "ry-art"), "--port", str(p1)],
        env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    out["runyard"] = (ry, f"http://127.0.0.1:{p1}", f"sqlite:///{ry_db}")
    ml_db = root / "mlflow.db"
    ml = subprocess.Popen(
        ["mlflow", "server", "--backend-store-uri", f"sqlite:///{ml_db}",
         "--default-artifact-root", str(root / "ml-art"), "--host", "127.0.0.1",
         "--port", str(p2), "--workers", "1"],
        env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    out["mlflow"] = (ml, f"http://127.0.0.1:{p2}", f"sqlite:///{ml_db}")
    try:
        _wait(out["runyard"][1], "/health")
        _wait(out["mlflow"][1], "/health")
    except RuntimeError:
        stop(out)
        raise
    return out


def stop(servers: Servers) -> None:
    for proc, _, _ in servers.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


MLFLOW_INGEST = """
import json, sys, time
from mlflow import MlflowClient
from mlflow.entities import Metric
url, batches = sys.argv[1], int(sys.argv[2])
c = MlflowClient(url)
run = c.create_run("0")
t = time.perf_counter()
for b in range(batches):
    ms = [Metric("loss", float(i), int(time.time() * 1000), b * 1000 + i) for i in range(1000)]
    c.log_batch(run.info.run_id, metrics=ms)
print(json.dumps({"points": batches * 1000, "s": time.perf_counter() - t}))
"""

NATIVE_INGEST = """
import json, sys, time
from runyard.entities import Metric
from runyard.tracking.store.rest import RestTrackingStore
url, batches = sys.argv[1], int(sys.argv[2])
s = RestTrackingStore(url)
run = s.create_run("0")
t = time.perf_counter()
for b in range(batches):
    s.log_batch(run.run_id, [Metric("loss", float(i), b * 10000 + i, 0) for i in range(10000)])
print(json.dumps({"points": batches * 10000, "s": time.perf_counter() - t}))
"""


def ingest(code: str, url: str, batches: int, procs: int) -> float:
    import json

    env = {**os.environ, **QUIET_ENV}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, url, str(batches)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        for _ in range(procs)
    ]
    points, slowest = 0, 0.0
    for child in children:
        out, _ = child.communicate(timeout=3600)
        if child.returncode != 0:
            raise RuntimeError("an ingest client failed")
        done = json.loads(out.strip().splitlines()[-1])
        points += done["points"]
        slowest = max(slowest, done["s"])
    return points / slowest  # timed inside each client: interpreter start-up excluded


def populate(
    servers: dict[str, tuple[subprocess.Popen[bytes], str, str]], runs: int
) -> dict[str, str]:  # noqa: E501
    from mlflow.entities import Metric as MlMetric
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    from runyard.entities import Metric
    from runyard.tracking.store.sql import SqlTrackingStore

    ry = SqlTrackingStore(servers["runyard"][2])
    ry_exp = ry.create_experiment("search")
    for i in range(runs):
        r = ry.create_run(ry_exp, name=f"r{i}")
        ry.log_batch(r.run_id, [Metric("acc", (i * 7919 % runs) / runs, 0, 0)], {"i": str(i)})
    ml = SqlAlchemyStore(servers["mlflow"][2], "/tmp/unused-ml-art")
    ml_exp = ml.create_experiment("search")
    for i in range(runs):
        r = ml.create_run(ml_exp, "bench", 0, [], f"r{i}")
        ml.log_batch(r.info.run_id, [MlMetric("acc", (i * 7919 % runs) / runs, 0, 0)], [], [])
    return {"runyard": ry_exp, "mlflow": ml_exp}


def time_search(url: str, exp: str, repeats: int = 7) -> float:
    body = {"experiment_ids": [exp], "order_by": ["metrics.acc DESC"], "max_results": 100}
    times = []
    with httpx.Client(base_url=url, timeout=300) as c:
        for _ in range(repeats):
            t = time.perf_counter()
            r = c.post("/api/2.0/mlflow/runs/search", json=body)
            r.raise_for_status()
            times.append(time.perf_counter() - t)
            assert len(r.json()["runs"]) == 100
    return statistics.median(times) * 1000


def history(
    servers: dict[str, tuple[subprocess.Popen[bytes], str, str]], runs: int, steps: int
) -> dict[str, float | None]:  # noqa: E501
    from runyard.entities import Metric
    from runyard.tracking.store.rest import RestTrackingStore

    ry = RestTrackingStore(servers["runyard"][1])
    from mlflow import MlflowClient
    from mlflow.entities import Metric as MlMetric

    ml = MlflowClient(servers["mlflow"][1])
    ry_ids, ml_ids = [], []
    for _ in range(runs):
        r = ry.create_run("0")
        for start in range(0, steps, 50_000):
            end = min(steps, start + 50_000)
            ry.log_batch(r.run_id, [Metric("loss", 1.0 / (s + 1), s, s) for s in range(start, end)])
        ry_ids.append(r.run_id)
    ml_runs = min(runs, 10)  # mlflow ingest is slow; its read is timed on fewer runs
    for _ in range(ml_runs):
        r = ml.create_run("0")
        for start in range(0, steps, 1000):
            ml.log_batch(
                r.info.run_id,
                [
                    MlMetric("loss", 1.0 / (s + 1), s, s)
                    for s in range(start, min(steps, start + 1000))
                ],
            )
        ml_ids.append(r.info.run_id)
    out: dict[str, float | None] = {}
    with httpx.Client(timeout=600) as c:
        times = []
        for _ in range(5):
            t = time.perf_counter()
            r = c.post(
                servers["runyard"][1] + "/api/v1/metrics/histories",
                json={"run_ids": ry_ids, "key": "loss", "max_points": 1000},
            )
            r.raise_for_status()
            times.append(time.perf_counter() - t)
        out["runyard_ms"] = statistics.median(times) * 1000
        times = []
        try:
            for _ in range(3):
                t = time.perf_counter()
                r = c.get(
                    servers["mlflow"][1] + BULK,
                    params={"run_ids": ml_ids, "metric_key": "loss", "max_results": 1000},
                )
                r.raise_for_status()
                times.append(time.perf_counter() - t)
            out["mlflow_ms"] = statistics.median(times) * 1000
        except httpx.HTTPError:
            out["mlflow_ms"] = None
    out["mlflow_runs"] = ml_runs
    ry.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sizes = (
        {"batches": 5, "native_batches": 10, "runs": 2000, "hist_runs": 10, "hist_steps": 10_000}
        if args.quick
        else {"batches": 20, "native_batches": 50, "runs": 100_000, "hist_runs": 100,
              "hist_steps": 100_000}
    )  # fmt: skip
    root = Path(tempfile.mkdtemp(prefix="bench-server-"))
    servers = start_servers(root)
    results: dict[str, object] = {"sizes": sizes}
    try:
        rows = []
        for name in ("mlflow", "runyard"):  # warm both servers up (first requests, caches)
            ingest(MLFLOW_INGEST, servers[name][1], 1, 1)
        for procs in (1, 4):
            ml = ingest(MLFLOW_INGEST, servers["mlflow"][1], sizes["batches"], procs)
            ry = ingest(MLFLOW_INGEST, servers["runyard"][1], sizes["batches"], procs)
            nat = ingest(NATIVE_INGEST, servers["runyard"][1], sizes["native_batches"], procs)
            rows.append([f"mlflow client, {procs} proc", ml, ry, ry / ml, "10x"])
            rows.append([f"native client, {procs} proc", ml, nat, nat / ml, "50x"])
            results[f"ingest_{procs}"] = {"mlflow_pps": ml, "runyard_mlflow_client_pps": ry,
                                          "runyard_native_pps": nat}  # fmt: skip
        print_table("ingest (points/s)", ["case", "mlflow server", "runyard", "ratio", "goal"],
                    rows)  # fmt: skip
        exps = populate(servers, sizes["runs"])
        s_ml = time_search(servers["mlflow"][1], exps["mlflow"])
        s_ry = time_search(servers["runyard"][1], exps["runyard"])
        results["search"] = {"runs": sizes["runs"], "mlflow_ms": s_ml, "runyard_ms": s_ry}
        print_table(f"search_runs order by metric over {sizes['runs']} runs (ms, median)",
                    ["mlflow server", "runyard", "speed-up", "goal"],
                    [[s_ml, s_ry, s_ml / s_ry, "<=150 ms"]])  # fmt: skip
        h = history(servers, sizes["hist_runs"], sizes["hist_steps"])
        results["history"] = {**h, "runs": sizes["hist_runs"], "steps": sizes["hist_steps"]}
        print_table(
            f"history downsampled to 1000 points ({sizes['hist_runs']} runs x "
            f"{sizes['hist_steps']} steps; mlflow on {h['mlflow_runs']} runs) (ms)",
            ["mlflow server", "runyard", "goal"],
            [
                [
                    h["mlflow_ms"] if h["mlflow_ms"] is not None else "n/a",
                    h["runyard_ms"],
                    "<=100 ms",
                ]
            ],
        )
    finally:
        stop(servers)
    save("server" + ("_quick" if args.quick else ""), results)


if __name__ == "__main__":
    main()
