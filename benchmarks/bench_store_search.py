"""Search 100k runs: runyard's SQL store (SQLite, PostgreSQL) vs MLflow's SqlAlchemyStore.

Query (the same for every store): runs whose param ``lr`` is '0.01' and metric ``acc`` > 0.5,
ordered by ``acc`` descending, top 100.

Population (documented because it is not timed): each store is filled by bulk inserts into
its own tables in one transaction per 5,000 runs — runyard through its schema module and
chunk codec (``runyard.tracking.store.sql.schema``/``codec``; the same rows ``log_batch``
writes: run, params, one metric chunk and one summary row per key), MLflow through its
``dbmodels`` tables (runs, params, metrics, latest_metrics). Logging 100k runs one API call at
a time would take many minutes on either store and is not what this measures. A spot check
reads a run back through each store's API.

Usage:
    python benchmarks/bench_store_search.py            # 100k runs
    python benchmarks/bench_store_search.py --quick    # 10k runs
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from array import array
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import sqlalchemy as sa  # noqa: E402

from runyard.tracking.store import get_store  # noqa: E402
from runyard.tracking.store.sql import schema  # noqa: E402
from runyard.tracking.store.sql.codec import pack_float64, pack_int64  # noqa: E402
from runyard.tracking.store.sql.engine import get_engine  # noqa: E402

FILTER = "params.lr = '0.01' and metrics.acc > 0.5"
ORDER = ["metrics.acc DESC"]
TOP = 100
LRS = ["0.1", "0.01", "0.001", "0.0001"]
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def make_runs(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {
            "run_id": uuid.UUID(int=rng.getrandbits(128)).hex,
            "start_time": 1_700_000_000_000 + i,
            "lr": rng.choice(LRS),
            "layers": str(rng.randint(1, 8)),
            "acc": rng.random(),
            "loss": rng.random() * 3,
        }
        for i in range(n)
    ]


def populate_runyard(uri: str, runs: list[dict[str, Any]]) -> str:
    store = get_store(uri)
    exp = store.create_experiment(f"bench-{uuid.uuid4().hex[:8]}")
    engine = get_engine(uri)
    for lo in range(0, len(runs), 5000):
        part = runs[lo : lo + 5000]
        with engine.begin() as conn:
            conn.execute(
                schema.runs.insert(),
                [
                    {"run_id": r["run_id"], "experiment_id": int(exp), "name": f"r{i}",
                     "status": "FINISHED", "start_time": r["start_time"], "end_time": None,
                     "parent_run_id": None, "artifact_uri": "/tmp/a", "lifecycle_stage": "active"}
                    for i, r in enumerate(part, lo)
                ],
            )  # fmt: skip
            conn.execute(
                schema.params.insert(),
                [
                    {"run_id": r["run_id"], "key": k, "value": r[k]}
                    for r in part
                    for k in ("lr", "layers")
                ],
            )
            chunks, summaries = [], []
            for r in part:
                for key in ("acc", "loss"):
                    chunks.append(
                        {"run_id": r["run_id"], "key": key, "n": 1,
                         "steps": pack_int64(array("q", [0])),
                         "vals": pack_float64(array("d", [r[key]])),
                         "timestamps": pack_int64(array("q", [r["start_time"]]))}
                    )  # fmt: skip
                    summaries.append(
                        {"run_id": r["run_id"], "key": key, "experiment_id": int(exp),
                         "latest": r[key], "latest_step": 0, "latest_timestamp": r["start_time"],
                         "min": r[key], "max": r[key], "count": 1}
                    )  # fmt: skip
            conn.execute(schema.metric_chunks.insert(), chunks)
            conn.execute(schema.metric_summaries.insert(), summaries)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    got = store.get_run(runs[0]["run_id"])
    assert got.params["lr"] == runs[0]["lr"] and got.metrics["acc"].latest == runs[0]["acc"]
    return exp


def populate_mlflow(path: Path, runs: list[dict[str, Any]]) -> tuple[Any, str]:
    from mlflow.store.tracking.dbmodels import models as m
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{path}", str(path.parent / "mlartifacts"))
    exp = store.create_experiment("bench")
    with store.engine.begin() as conn:
        for lo in range(0, len(runs), 5000):
            part = runs[lo : lo + 5000]
            conn.execute(
                sa.insert(m.SqlRun.__table__),
                [
                    {"run_uuid": r["run_id"], "name": f"r{i}", "source_type": "LOCAL",
                     "source_name": "", "entry_point_name": "", "user_id": "bench",
                     "status": "FINISHED", "start_time": r["start_time"], "end_time": None,
                     "source_version": "", "lifecycle_stage": "active",
                     "artifact_uri": "/tmp/a", "experiment_id": int(exp)}
                    for i, r in enumerate(part, lo)
                ],
            )  # fmt: skip
            conn.execute(
                sa.insert(m.SqlParam.__table__),
                [
                    {"run_uuid": r["run_id"], "key": k, "value": r[k]}
                    for r in part
                    for k in ("lr", "layers")
                ],
            )
            points = [
                {"run_uuid": r["run_id"], "key": k, "value": r[k], "timestamp": r["start_time"],
                 "step": 0, "is_nan": False}
                for r in part for k in ("acc", "loss")
            ]  # fmt: skip
            conn.execute(sa.insert(m.SqlMetric.__table__), points)
            conn.execute(sa.insert(m.SqlLatestMetric.__table__), points)
        conn.exec_driver_sql("ANALYZE")
    got = store.get_run(runs[0]["run_id"])
    assert got.data.params["lr"] == runs[0]["lr"]
    return store, exp


def median_ms(fn: Any, reps: int) -> tuple[float, Any]:
    result = fn()  # warm-up (and the result to cross-check)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def explain(uri: str, exp: str) -> list[str]:
    """The plan of the main search statement, captured while it runs."""
    engine = get_engine(uri)
    captured: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if "s0" in statement and "LIMIT" in statement.upper():
            captured.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", grab)
    try:
        get_store(uri).search_runs([exp], FILTER, ORDER, max_results=TOP)
    finally:
        sa.event.remove(engine, "before_cursor_execute", grab)
    statement, params = captured[0]
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN ANALYZE "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + statement, params).all()
    return [" | ".join(str(c) for c in row) for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10k runs, fewer repetitions")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--explain", action="store_true", help="print the query plans")
    args = parser.parse_args()
    n = 10_000 if args.quick else args.runs
    reps = args.reps or (5 if args.quick else 9)
    runs = make_runs(n)
    expected = sorted(
        (r for r in runs if r["lr"] == "0.01" and r["acc"] > 0.5), key=lambda r: -r["acc"]
    )[:TOP]
    expected_ids = [r["run_id"] for r in expected]
    results: dict[str, Any] = {"runs": n, "top": TOP, "filter": FILTER, "order_by": ORDER,
                               "repetitions": reps, "stores": {}}  # fmt: skip
    admin = None
    pg_db = None
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("runyard-sqlite", f"sqlite:///{tmp}/runyard.db")]
        if not args.no_postgres:
            admin = sa.create_engine(f"{PG_SERVER}/test", isolation_level="AUTOCOMMIT")
            pg_db = f"runyard_bench_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{pg_db}"')
            targets.append(("runyard-postgres", f"postgresql://postgres@127.0.0.1:5432/{pg_db}"))
        try:
            for label, uri in targets:
                t0 = time.perf_counter()
                exp = populate_runyard(uri, runs)
                print(f"populated {label}: {n} runs in {time.perf_counter() - t0:.1f}s")
                store = get_store(uri)

                def search(store: Any = store, exp: str = exp) -> list[str]:
                    page = store.search_runs([exp], FILTER, ORDER, max_results=TOP)
                    return [r.run_id for r in page]

                ms, ids = median_ms(search, reps)
                assert ids == expected_ids, f"{label} returned the wrong runs"
                results["stores"][label] = {"median_ms": ms}
                if args.explain:
                    plan = explain(uri, exp)
                    results["stores"][label]["plan"] = plan
                    print(f"plan on {label}:\n  " + "\n  ".join(plan))
            t0 = time.perf_counter()
            mlflow_store, mlflow_exp = populate_mlflow(Path(tmp) / "mlflow.db", runs)
            print(f"populated mlflow-sqlite: {n} runs in {time.perf_counter() - t0:.1f}s")
            from mlflow.entities import ViewType

            def mlflow_search() -> list[str]:
                found = mlflow_store.search_runs(
                    [mlflow_exp], FILTER, ViewType.ACTIVE_ONLY, TOP, ORDER
                )
                return [r.info.run_id for r in found]

            ms, ids = median_ms(mlflow_search, reps)
            assert ids == expected_ids, "mlflow returned the wrong runs"
            results["stores"]["mlflow-sqlite"] = {"median_ms": ms}
        finally:
            if admin is not None and pg_db is not None:
                from runyard.tracking.store.sql import engine as engines

                for engine in list(engines._engines.values()):
                    engine.dispose()
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)')
                admin.dispose()
    base = results["stores"]["mlflow-sqlite"]["median_ms"]
    print(f"\nsearch_runs over {n:,} runs, top {TOP}, median of {reps}:")
    print(f"{'store':<18}{'median ms':>12}{'vs mlflow':>12}")
    for label, row in results["stores"].items():
        row["speedup_vs_mlflow"] = base / row["median_ms"]
        print(f"{label:<18}{row['median_ms']:>12.2f}{row['speedup_vs_mlflow']:>11.1f}x")
    out = Path(__file__).parent / "results" / "store_search.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
