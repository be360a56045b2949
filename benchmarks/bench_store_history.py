"""One long metric series: runyard's chunked storage vs MLflow's one-row-per-point table.

Logs one series (default 1M points) in batches of 1,000 through each store's ``log_batch``
(runyard ``SqlTrackingStore`` and MLflow ``SqlAlchemyStore``, both on a SQLite file), reads
the whole series back (median of several reads) and reports bytes on disk per point (the
SQLite file's growth after a WAL checkpoint, divided by the points).

Usage:
    python benchmarks/bench_store_history.py            # 1M points
    python benchmarks/bench_store_history.py --quick    # 100k points
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

from runyard.entities import Metric  # noqa: E402
from runyard.tracking.store import get_store  # noqa: E402

BATCH = 1000


def file_size(path: Path) -> int:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def value(i: int) -> float:
    return math.nan if i % 100_003 == 7 else 1.0 / (1 + i)


def bench_runyard(path: Path, n: int, reps: int) -> dict[str, float]:
    store = get_store(f"sqlite:///{path}")
    run = store.create_run("0")
    before = file_size(path)
    t0 = time.perf_counter()
    for lo in range(0, n, BATCH):
        points = [
            Metric("loss", value(i), i, 1_700_000_000_000 + i)
            for i in range(lo, min(n, lo + BATCH))
        ]
        store.log_batch(run.run_id, points)
    log_s = time.perf_counter() - t0
    size = file_size(path) - before
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        series = store.get_metric_history(run.run_id, "loss")
        times.append(time.perf_counter() - t0)
    assert len(series) == n and series.steps[-1] == n - 1 and series.values[1] == value(1)
    assert math.isnan(series.values[7])
    return {"log_s": log_s, "read_median_s": statistics.median(times), "bytes_per_point": size / n}


def bench_mlflow(path: Path, n: int, reps: int) -> dict[str, float]:
    from mlflow.entities import Metric as MlflowMetric
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{path}", str(path.parent / "mlartifacts"))
    run = store.create_run("0", "bench", 0, [], "run")
    run_id = run.info.run_id
    before = file_size(path)
    t0 = time.perf_counter()
    for lo in range(0, n, BATCH):
        points = [
            MlflowMetric("loss", value(i), 1_700_000_000_000 + i, i)
            for i in range(lo, min(n, lo + BATCH))
        ]
        store.log_batch(run_id, points, [], [])
    log_s = time.perf_counter() - t0
    size = file_size(path) - before
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        history = store.get_metric_history(run_id, "loss")
        times.append(time.perf_counter() - t0)
    assert len(history) == n
    return {"log_s": log_s, "read_median_s": statistics.median(times), "bytes_per_point": size / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100k points")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    n = 100_000 if args.quick else args.points
    results: dict[str, Any] = {"points": n, "batch": BATCH, "repetitions": args.reps}
    with tempfile.TemporaryDirectory() as tmp:
        results["runyard-sqlite"] = bench_runyard(Path(tmp) / "runyard.db", n, args.reps)
        print("runyard:", results["runyard-sqlite"])
        results["mlflow-sqlite"] = bench_mlflow(Path(tmp) / "mlflow.db", n, max(1, args.reps // 2))
        print("mlflow:", results["mlflow-sqlite"])
    ry, ml = results["runyard-sqlite"], results["mlflow-sqlite"]
    print(f"\none series of {n:,} points, logged in batches of {BATCH}:")
    print(f"{'':<22}{'runyard':>12}{'mlflow':>12}{'ratio':>10}")
    for key, label in (("read_median_s", "read whole (s)"), ("log_s", "log all (s)"),
                       ("bytes_per_point", "bytes/point")):  # fmt: skip
        print(f"{label:<22}{ry[key]:>12.3f}{ml[key]:>12.3f}{ml[key] / ry[key]:>9.1f}x")
    results["ratios_mlflow_over_runyard"] = {k: ml[k] / ry[k] for k in ry}
    out = Path(__file__).parent / "results" / "store_history.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
