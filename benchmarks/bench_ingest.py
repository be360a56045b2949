"""Ingest: runs x metrics x steps through runyard's client vs the mlflow client.

Both write to their own SQLite file, one process each, in one run of this script. MLflow is
measured both synchronously (its default) and with its asynchronous logging; the ratio is
taken against MLflow's faster mode. MLflow at full size takes tens of minutes, so it logs
fewer runs by default (``--mlflow-runs``); the figure compared is points per second.

    python benchmarks/bench_ingest.py            # 100 runs x 10 metrics x 1,000 steps
    python benchmarks/bench_ingest.py --quick
"""

from __future__ import annotations

import argparse
import tempfile
import textwrap
from pathlib import Path

from _harness import print_table, run_side, save

RUNYARD = """
import json, time, runyard as ry
runs, metrics, steps = {runs}, {metrics}, {steps}
names = [f"m{{i}}" for i in range(metrics)]
t0 = time.perf_counter()
for r in range(runs):
    with ry.start_run(experiment="ingest", tracking_uri={uri!r}) as run:
        for step in range(steps):
            run.log_metrics({{k: step * 0.001 + i for i, k in enumerate(names)}}, step=step)
elapsed = time.perf_counter() - t0
print(json.dumps({{"seconds": elapsed, "points": runs * metrics * steps}}))
"""

MLFLOW = """
import json, time, mlflow
mlflow.set_tracking_uri({uri!r})
mlflow.set_experiment("ingest")
runs, metrics, steps, sync = {runs}, {metrics}, {steps}, {sync}
names = [f"m{{i}}" for i in range(metrics)]
t0 = time.perf_counter()
for r in range(runs):
    with mlflow.start_run():
        for step in range(steps):
            mlflow.log_metrics({{k: step * 0.001 + i for i, k in enumerate(names)}}, step=step,
                               synchronous=sync)
elapsed = time.perf_counter() - t0
print(json.dumps({{"seconds": elapsed, "points": runs * metrics * steps}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--mlflow-runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="10 runs; MLflow 2 runs")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.mlflow_runs = 10, 2

    rows, out = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        side = run_side(
            textwrap.dedent(RUNYARD).format(
                runs=args.runs,
                metrics=args.metrics,
                steps=args.steps,
                uri=f"sqlite:///{Path(tmp) / 'runyard.db'}",
            ),
            env={"RUNYARD_HOME": tmp},
        )
        out["runyard"] = side
        for label, sync in (("mlflow (sync)", True), ("mlflow (async)", False)):
            db = Path(tmp) / f"mlflow-{sync}.db"
            out[label] = run_side(
                textwrap.dedent(MLFLOW).format(
                    runs=args.mlflow_runs,
                    metrics=args.metrics,
                    steps=args.steps,
                    uri=f"sqlite:///{db}",
                    sync=sync,
                ),
                env={"MLFLOW_ENABLE_ASYNC_LOGGING": "false"},
            )
    for side in out.values():
        side["points_per_s"] = side["points"] / side["seconds"]
    best_mlflow = max(out["mlflow (sync)"]["points_per_s"], out["mlflow (async)"]["points_per_s"])
    for name, side in out.items():
        rows.append(
            [
                name,
                side["points"],
                side["seconds"],
                side["points_per_s"],
                side["points_per_s"] / best_mlflow,
            ]
        )
    print_table(
        f"ingest: {args.metrics} metrics x {args.steps} steps per run, 1 process, SQLite",
        ["client", "points", "seconds", "points/s", "x best mlflow"],
        rows,
    )
    ratio = out["runyard"]["points_per_s"] / best_mlflow
    print(f"\nrunyard / best mlflow points/s: {ratio:.1f}x (goal >= 25x)")
    save("ingest", {"args": vars(args), "sides": out, "ratio_vs_best_mlflow": ratio})


if __name__ == "__main__":
    main()
