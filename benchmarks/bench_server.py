"""Tracking server: runyard vs `mlflow server` (SQLite backends), side by side in one run.

Measures, against both servers started here on loopback (``runyard server`` is the real
console entry point, ``runyard.cli.app:main``):

1. ingest with the stock ``mlflow`` client (``log_batch`` of 1000 points), 1 and 4 client
   processes -> points/s; once per ``--workers`` count of the runyard server (the MLflow
   server runs with ``--mlflow-workers`` workers, 1 by default: the baseline of every ratio);
2. ingest with runyard's native REST client (columnar ``log_batch`` of 10,000 points) ->
   points/s, compared with the mlflow client against MLflow;
3. ``runs/search`` ordered by a metric over N runs, through MLflow's REST endpoint on both
   servers (same request, 100 results, median of 7);
4. history of R runs x S steps downsampled to 1000 points for a chart: runyard
   ``/api/v1/metrics/histories`` with ``max_points=1000`` (JSON; Arrow IPC also timed) vs
   MLflow's ``get-history-bulk-interval`` (``max_results=1000``; on 10 runs, see below).

Servers and client processes share this machine's cores (the JSON records how many, and the
load average before and after): with 4 client processes every process competes for CPU, and
the stock ``mlflow`` client's own CPU time per 1000-point ``log_batch`` bounds the ratio.
Both servers run on uvicorn, so both get uvloop/httptools when they are installed.

Population (not timed): the N runs of (3) are written by **bulk inserts into each store's own
tables** through ``sqlite3`` — runyard's ``runs``, ``params``, ``metric_summaries`` and
``metric_chunks``; MLflow's ``runs``, ``tags``, ``params``, ``metrics`` and
``latest_metrics`` — with the same columns each store's own writes fill, so 100k runs take
seconds instead of the hours of one API call per run. The runyard history runs of (4) are
ingested through the REST API (50,000 points per batch); MLflow's (10 runs, because its
bulk-interval read is slow) are created with its client and their points bulk-inserted into
``metrics``.

``--quick`` uses small sizes; the full run uses 100k runs and 100 runs x 100k steps.
``--workers 1 2`` repeats the ingest rows with a 2-worker runyard server.

The ingest table ends with a *null server* row per client count (``_null_server.py``: it
answers every request at once and stores nothing): the most points/s the stock ``mlflow``
client reaches on this machine against any server, so the highest ratio any server could
show. With 4 client processes on 2 cores that ceiling, not the server, decides the ratio.
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

CLI = "from runyard.cli.app import main; main()"  # exactly the `runyard` console script


Server = tuple[subprocess.Popen[bytes], str, str]  # process, base URL, store URI
Servers = dict[str, Server]
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


def _start_server(name: str, db: Path, argv: list[str], port: int) -> Server:
    """Start one server process on loopback and wait for its health route."""
    proc = subprocess.Popen(
        argv,
        env={**os.environ, **QUIET_ENV},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = (proc, f"http://127.0.0.1:{port}", f"sqlite:///{db}")
    try:
        _wait(server[1], "/health")
    except RuntimeError:
        stop({name: server})
        raise
    return server


def start_runyard(root: Path, workers: int) -> Server:
    (port,) = _ports(1)
    db = root / "runyard.db"
    argv = [sys.executable, "-c", CLI, "server", "--backend-store-uri", f"sqlite:///{db}"]
    argv += ["--artifact-uri", str(root / "ry-art"), "--port", str(port)]
    return _start_server("runyard", db, [*argv, "--workers", str(workers)], port)


def start_mlflow(root: Path, workers: int = 1) -> Server:
    (port,) = _ports(1)
    db = root / "mlflow.db"
    argv = ["mlflow", "server", "--backend-store-uri", f"sqlite:///{db}"]
    argv += ["--default-artifact-root", str(root / "ml-art"), "--host", "127.0.0.1"]
    return _start_server(
        "mlflow", db, [*argv, "--port", str(port), "--workers", str(workers)], port
    )


def start_null() -> Server:
    """The server that does no work (``_null_server.py``): the ceiling of the ingest rows."""
    (port,) = _ports(1)
    script = str(Path(__file__).with_name("_null_server.py"))
    return _start_server("null", Path("/nonexistent"), [sys.executable, script, str(port)], port)


def ceiling(batches: int) -> dict[int, float]:
    """Points/s of the stock mlflow client against the null server, for 1 and 4 processes."""
    null = start_null()
    try:
        ingest(MLFLOW_INGEST, null[1], 1, 1)
        return {procs: ingest(MLFLOW_INGEST, null[1], batches, procs) for procs in (1, 4)}
    finally:
        stop({"null": null})


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
        )
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


def _db_path(uri: str) -> str:
    return uri.removeprefix("sqlite:///")


def populate(servers: Servers, runs: int) -> dict[str, str]:
    """Bulk-insert ``runs`` runs with one metric into each store's own tables (see top)."""
    import sqlite3
    import uuid
    from array import array

    from mlflow import MlflowClient

    from runyard.tracking.store.rest import RestTrackingStore
    from runyard.tracking.store.sql.codec import pack_float64, pack_int64

    rest = RestTrackingStore(servers["runyard"][1])
    ry_exp = rest.create_experiment("search")
    art = rest.get_experiment(ry_exp).artifact_location
    rest.close()
    ml_exp = MlflowClient(servers["mlflow"][1]).create_experiment("search")
    now = int(time.time() * 1000)
    values = [(i * 7919 % runs) / runs for i in range(runs)]
    ry_ids = [uuid.uuid4().hex for _ in range(runs)]
    ml_ids = [uuid.uuid4().hex for _ in range(runs)]

    con = sqlite3.connect(_db_path(servers["runyard"][2]), timeout=60)
    with con:
        con.executemany(
            "INSERT INTO runs (run_id, experiment_id, name, status, start_time, end_time, "
            "parent_run_id, artifact_uri, lifecycle_stage) VALUES (?,?,?,?,?,?,?,?,?)",
            [
                (
                    r,
                    int(ry_exp),
                    f"r{i}",
                    "FINISHED",
                    now + i,
                    now + i + 1,
                    None,
                    f"{art}/{r}",
                    "active",
                )
                for i, r in enumerate(ry_ids)
            ],
        )
        con.executemany(
            "INSERT INTO params (run_id, key, value) VALUES (?,?,?)",
            [(r, "i", str(i)) for i, r in enumerate(ry_ids)],
        )
        con.executemany(
            "INSERT INTO metric_summaries (run_id, key, experiment_id, latest, latest_step, "
            "latest_timestamp, min, max, count) VALUES (?,?,?,?,?,?,?,?,?)",
            [
                (r, "acc", int(ry_exp), v, 0, now, v, v, 1)
                for r, v in zip(ry_ids, values, strict=True)
            ],
        )
        con.executemany(
            "INSERT INTO metric_chunks (run_id, key, n, steps, vals, timestamps) "
            "VALUES (?,?,?,?,?,?)",
            [
                (
                    r,
                    "acc",
                    1,
                    pack_int64(array("q", [0])),
                    pack_float64(array("d", [v])),
                    pack_int64(array("q", [now])),
                )
                for r, v in zip(ry_ids, values, strict=True)
            ],
        )
    con.close()

    con = sqlite3.connect(_db_path(servers["mlflow"][2]), timeout=60)
    with con:
        con.executemany(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
            "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
            "artifact_uri, experiment_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    r,
                    f"r{i}",
                    "UNKNOWN",
                    "",
                    "",
                    "bench",
                    "FINISHED",
                    now + i,
                    now + i + 1,
                    "",
                    "active",
                    f"/tmp/ml-art/{r}/artifacts",
                    int(ml_exp),
                )
                for i, r in enumerate(ml_ids)
            ],
        )
        con.executemany(
            "INSERT INTO tags (key, value, run_uuid) VALUES (?,?,?)",
            [("mlflow.runName", f"r{i}", r) for i, r in enumerate(ml_ids)],
        )
        con.executemany(
            "INSERT INTO params (key, value, run_uuid) VALUES (?,?,?)",
            [("i", str(i), r) for i, r in enumerate(ml_ids)],
        )
        con.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
            "VALUES (?,?,?,?,?,?)",
            [("acc", v, now, r, 0, 0) for r, v in zip(ml_ids, values, strict=True)],
        )
        con.executemany(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
            "VALUES (?,?,?,?,?,?)",
            [("acc", v, now, 0, 0, r) for r, v in zip(ml_ids, values, strict=True)],
        )
    con.close()
    return {"runyard": ry_exp, "mlflow": ml_exp}


MLFLOW_SEARCH_TIMEOUT_S = 180.0


def time_search(url: str, exp: str, repeats: int = 7, timeout_s: float = 300) -> float | None:
    """Median ms of the search over up to ``repeats`` requests; None on a timeout.

    The first request is timed too (no hidden warm-up); when it takes more than
    ``timeout_s / repeats`` it is the only one made.
    """
    body = {"experiment_ids": [exp], "order_by": ["metrics.acc DESC"], "max_results": 100}
    times: list[float] = []
    with httpx.Client(base_url=url, timeout=timeout_s) as c:
        for _ in range(repeats):
            t = time.perf_counter()
            try:
                r = c.post("/api/2.0/mlflow/runs/search", json=body)
            except httpx.TimeoutException:
                return None
            r.raise_for_status()
            times.append(time.perf_counter() - t)
            assert len(r.json()["runs"]) == 100
            if times[0] > timeout_s / repeats:
                break
    return statistics.median(times) * 1000


def history(servers: Servers, runs: int, steps: int) -> dict[str, float | None]:
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
    ml_runs = min(runs, 10)  # mlflow's bulk-interval read is slow; timed on fewer runs
    import sqlite3

    for _ in range(ml_runs):
        r = ml.create_run("0")
        ml.log_batch(r.info.run_id, [MlMetric("loss", 1.0, 0, 0)])  # latest_metrics row
        ml_ids.append(r.info.run_id)
    con = sqlite3.connect(_db_path(servers["mlflow"][2]), timeout=60)
    with con:
        for run_id in ml_ids:
            con.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                "VALUES (?,?,?,?,?,0)",
                (("loss", 1.0 / (s + 1), s, run_id, s) for s in range(1, steps)),
            )
    con.close()
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
        for _ in range(5):
            t = time.perf_counter()
            r = c.post(
                servers["runyard"][1] + "/api/v1/metrics/histories",
                json={"run_ids": ry_ids, "key": "loss", "max_points": 1000, "format": "arrow"},
            )
            r.raise_for_status()
            times.append(time.perf_counter() - t)
        out["runyard_arrow_ms"] = statistics.median(times) * 1000
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
    ap.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        help="runyard server worker counts to measure ingest with (e.g. 1 2)",
    )
    ap.add_argument(
        "--mlflow-workers",
        type=int,
        default=1,
        help="worker processes of the mlflow server (the baseline of every ratio)",
    )
    ap.add_argument(
        "--ingest-only",
        action="store_true",
        help="measure the ingest rows only (no search, history)",
    )
    args = ap.parse_args()
    sizes = (
        {"batches": 5, "native_batches": 10, "runs": 2000, "hist_runs": 10, "hist_steps": 10_000}
        if args.quick
        else {
            "batches": 20,
            "native_batches": 50,
            "runs": 100_000,
            "hist_runs": 100,
            "hist_steps": 100_000,
        }
    )
    root = Path(tempfile.mkdtemp(prefix="bench-server-"))
    cmd = "python benchmarks/bench_server.py" + (" --quick" if args.quick else "")
    if args.workers != [1]:
        cmd += " --workers " + " ".join(map(str, args.workers))
    if args.mlflow_workers != 1:
        cmd += f" --mlflow-workers {args.mlflow_workers}"
    if args.ingest_only:
        cmd += " --ingest-only"
    results: dict[str, object] = {
        "command": cmd,
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "sizes": sizes,
        "population": "bulk inserts into each store's own tables via sqlite3 (see docstring)",
    }
    results["mlflow_workers"] = args.mlflow_workers
    servers: Servers = {"mlflow": start_mlflow(root, args.mlflow_workers)}
    try:
        rows = []
        ml_pps: dict[int, float] = {}
        for workers in args.workers:
            if "runyard" in servers:
                stop({"runyard": servers.pop("runyard")})
            servers["runyard"] = start_runyard(root / f"w{workers}", workers)
            for name in ("mlflow", "runyard"):  # warm both servers up (first requests, caches)
                ingest(MLFLOW_INGEST, servers[name][1], 1, 1)
            for procs in (1, 4):
                if procs not in ml_pps:
                    ml_pps[procs] = ingest(
                        MLFLOW_INGEST, servers["mlflow"][1], sizes["batches"], procs
                    )
                ml = ml_pps[procs]
                ry = ingest(MLFLOW_INGEST, servers["runyard"][1], sizes["batches"], procs)
                nat = ingest(NATIVE_INGEST, servers["runyard"][1], sizes["native_batches"], procs)
                w = f"{workers} worker" + ("s" if workers > 1 else "")
                rows.append([f"mlflow client, {procs} proc, {w}", ml, ry, ry / ml, "10x"])
                rows.append([f"native client, {procs} proc, {w}", ml, nat, nat / ml, "50x"])
                key = f"ingest_{procs}" + ("" if workers == 1 else f"_workers{workers}")
                results[key] = {
                    "runyard_workers": workers,
                    "mlflow_pps": ml,
                    "runyard_mlflow_client_pps": ry,
                    "runyard_native_pps": nat,
                    "ratio_mlflow_client": ry / ml,
                    "ratio_native": nat / ml,
                }
        top = ceiling(sizes["batches"])
        for procs, pps in top.items():
            ml = ml_pps[procs]
            rows.append([f"mlflow client, {procs} proc, null server", ml, pps, pps / ml, "ceiling"])
            results[f"ingest_{procs}_null_server"] = {"mlflow_pps": ml, "null_server_pps": pps}
            results[f"ingest_{procs}_null_server"]["ratio"] = pps / ml
        print_table(
            f"ingest (points/s; mlflow server: {args.mlflow_workers} worker(s))",
            ["case", "mlflow server", "runyard", "ratio", "goal"],
            rows,
        )
        if not args.ingest_only:
            if args.workers[-1] != 1:  # search and history against a 1-worker server
                stop({"runyard": servers.pop("runyard")})
                servers["runyard"] = start_runyard(root / "w1-read", 1)
            # history first: MLflow's timed-out search keeps its server busy for minutes
            h = history(servers, sizes["hist_runs"], sizes["hist_steps"])
            results["history"] = {**h, "runs": sizes["hist_runs"], "steps": sizes["hist_steps"]}
            print_table(
                f"history downsampled to 1000 points ({sizes['hist_runs']} runs x "
                f"{sizes['hist_steps']} steps; mlflow on {h['mlflow_runs']} runs) (ms, median)",
                ["mlflow server", "runyard (JSON)", "runyard (Arrow)", "goal"],
                [
                    [
                        h["mlflow_ms"] if h["mlflow_ms"] is not None else "n/a",
                        h["runyard_ms"],
                        h["runyard_arrow_ms"],
                        "<=100 ms",
                    ]
                ],
            )
            exps = populate(servers, sizes["runs"])
            s_ry = time_search(servers["runyard"][1], exps["runyard"])
            s_ml = time_search(
                servers["mlflow"][1], exps["mlflow"], timeout_s=MLFLOW_SEARCH_TIMEOUT_S
            )
            results["search"] = {
                "runs": sizes["runs"],
                "mlflow_ms": s_ml,  # None: no answer within mlflow_timeout_s
                "runyard_ms": s_ry,
                "mlflow_timeout_s": MLFLOW_SEARCH_TIMEOUT_S,
            }
            assert s_ry is not None
            limit_ms = MLFLOW_SEARCH_TIMEOUT_S * 1000
            ml_cell = f"{s_ml:,.0f}" if s_ml is not None else f"> {limit_ms:,.0f} (timed out)"
            speedup = f"{s_ml / s_ry:,.1f}" if s_ml is not None else f"> {limit_ms / s_ry:,.0f}"
            print_table(
                f"search_runs order by metric over {sizes['runs']} runs (ms, median of up to 7)",
                ["mlflow server", "runyard", "speed-up", "goal"],
                [[ml_cell, s_ry, speedup, "<=150 ms"]],
            )
    finally:
        stop(servers)
    results["load_average_after"] = os.getloadavg()
    suffix = (
        ("_quick" if args.quick else "")
        + (f"_mlflow{args.mlflow_workers}w" if args.mlflow_workers != 1 else "")
        + ("_ingest" if args.ingest_only else "")
    )
    save("server" + suffix, results)


if __name__ == "__main__":
    main()
