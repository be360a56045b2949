"""Pipeline overhead: runyard (inline and process pool) side by side with Prefect and Metaflow.

Workloads: a chain of no-op steps (each depends on the previous) and a fan-out of no-op
steps (one step mapped over a list). Reported per step, end to end: graph, cache keys,
tracking (every step call is a child run in SQLite, its output in the artifact folder), and
execution. For runyard the time spent inside tracking-store calls and inside artifact-store
calls is also shown, so what the pipeline engine itself costs is visible apart from the
stores. A cache hit is measured on a second run of the chain.

Usage: python benchmarks/bench_pipelines.py [--quick] [--skip prefect,metaflow]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "pipelines.json"

# -- runyard --------------------------------------------------------------------------------


def _timed(obj: Any, names: tuple[str, ...], spent: dict[str, float], what: str) -> None:
    """Wrap methods on the instance to add up the seconds spent inside them in ``spent[what]``.

    Time spent on another thread than the main one (runyard's background writer, which
    runs alongside the runner) goes to ``spent["background"]`` instead.
    """
    main = threading.main_thread()
    for name in names:
        method = getattr(obj, name)

        def timed(*a: Any, __m: Callable[..., Any] = method, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return __m(*a, **k)
            finally:
                key = what if threading.current_thread() is main else "background"
                spent[key] += time.perf_counter() - t

        setattr(obj, name, timed)


STORE_METHODS = (
    "create_run",
    "create_runs",
    "end_runs",
    "log_batch",
    "update_run",
    "log_artifact_refs",
    "add_lineage",
    "get_cache_entry",
    "get_cache_entries",
    "put_cache_entries",
    "put_cache_entry",
    "get_experiment_by_name",
    "create_experiment",
)
CAS_METHODS = ("put_bytes", "get_bytes", "has", "open", "sync")
GOALS = (  # the per-step overhead the pipelines issue asks for
    ("chain inline", "chain_inline", 1.0),
    ("fan-out inline", "fan_inline", 1.0),
    ("chain process pool", "chain_process", 20.0),
    ("fan-out process pool", "fan_process", 20.0),
    ("cache hit", "chain_cache_hit", 0.2),
)


def bench_executors(tasks: int) -> dict[str, Any]:
    """The executors alone: submit and collect ``tasks`` no-op calls."""
    from runyard.executors import InlineExecutor, ProcessExecutor

    out: dict[str, Any] = {}
    with InlineExecutor() as inline, ProcessExecutor(max_workers=2) as pool:
        pool.prestart()
        pool.submit(int, 0).result()
        for label, ex in (("inline", inline), ("process", pool)):
            t = time.perf_counter()
            for f in [ex.submit(int, i) for i in range(tasks)]:
                f.result()
            out[label] = {"tasks": tasks, "ms_per_task": (time.perf_counter() - t) / tasks * 1e3}
    return out


def bench_runyard(chain_n: int, fan_n: int, repeat: int = 3) -> dict[str, Any]:
    import runyard.pipelines as ry
    from runyard.artifacts import open_cas
    from runyard.executors import InlineExecutor, ProcessExecutor
    from runyard.tracking.store import get_store

    @ry.step
    def noop(x: int) -> int:
        return x + 1  # distinct values, so a chain's steps have distinct cache keys

    @ry.pipeline(name="bench_chain")
    def chain(x: int = 0):
        v = x
        for _ in range(chain_n):
            v = noop(v)
        return v

    @ry.pipeline(name="bench_fan")
    def fan(xs: list[int] = list(range(fan_n))):  # noqa: B006, B008
        return noop.map(x=xs)

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = get_store(f"sqlite:///{tmp}/runyard.db")
        cas = open_cas(f"{tmp}/artifacts")
        spent = {"tracking": 0.0, "artifacts": 0.0, "background": 0.0}
        _timed(store, STORE_METHODS, spent, "tracking")
        _timed(cas, CAS_METHODS, spent, "artifacts")
        pool = ProcessExecutor(max_workers=2)
        pool.prestart()
        pool.submit(int, 0).result()  # both workers warm
        chain.graph(), fan.graph()

        def run(
            label: str, pipe: Any, steps: int, executor: Any, times: int = repeat, **kw: Any
        ) -> None:
            """Run ``times`` times; keep the run of median wall time (and note the best)."""
            trials = []
            for _ in range(times):
                spent.update(tracking=0.0, artifacts=0.0, background=0.0)
                t = time.perf_counter()
                result = pipe.run(executor=executor, store=store, artifacts=cas, **kw)
                total = time.perf_counter() - t
                assert len(result.steps) == steps
                trials.append((total, spent["tracking"], spent["artifacts"], spent["background"]))
            trials.sort()
            total, tracking, artifacts, background = trials[len(trials) // 2]
            in_stores = tracking + artifacts
            out[label] = {
                "steps": steps,
                "runs": times,
                "ms_per_step": total / steps * 1e3,
                "best_ms_per_step": trials[0][0] / steps * 1e3,
                "stores_ms_per_step": in_stores / steps * 1e3,
                "tracking_ms_per_step": tracking / steps * 1e3,
                "artifacts_ms_per_step": artifacts / steps * 1e3,
                "background_ms_per_step": background / steps * 1e3,
                "engine_ms_per_step": (total - in_stores) / steps * 1e3,
            }

        inline = InlineExecutor()

        @ry.pipeline(name="bench_warmup")
        def warmup(x: int = 0):
            return noop(noop(x))

        for ex in (inline, pool):  # one-time costs (imports, experiment, folders) untimed
            warmup.run(executor=ex, store=store, artifacts=cas)
        run("chain_inline", chain, chain_n, inline, cache=False, x=1)
        run("chain_process", chain, chain_n, pool, cache=False, x=2)
        run("fan_inline", fan, fan_n, inline, cache=False)
        run("fan_process", fan, fan_n, pool, cache=False)
        run("chain_miss_then_cached", chain, chain_n, inline, times=1, x=3)
        run("chain_cache_hit", chain, chain_n, inline, x=3)
        pool.shutdown()
        store.close()
    return out


# -- peers (each in its own process, so a broken install cannot take the run down) -----------

PREFECT = """
import json, sys, time
from prefect import flow, task

@task
def noop(x):
    return x

@flow
def chain(n):
    v = 0
    for _ in range(n):
        v = noop(v)
    return v

@flow
def fan(n):
    futures = noop.map(list(range(n)))
    return [f.result() for f in futures]

chain_n, fan_n = int(sys.argv[1]), int(sys.argv[2])
chain(2)  # starts Prefect's local server and warms it; not timed
t = time.perf_counter(); chain(chain_n); c = time.perf_counter() - t
t = time.perf_counter(); fan(fan_n); f = time.perf_counter() - t
print(json.dumps({"chain": {"steps": chain_n, "ms_per_step": c / chain_n * 1e3},
                  "fan": {"steps": fan_n, "ms_per_step": f / fan_n * 1e3}}))
"""


def _metaflow_chain(n: int) -> str:
    steps = ["    @step\n    def start(self):\n        self.x = 0\n        self.next(self.s0)\n"]
    for i in range(n):
        nxt = f"s{i + 1}" if i + 1 < n else "end"
        steps.append(f"    @step\n    def s{i}(self):\n        self.next(self.{nxt})\n")
    steps.append("    @step\n    def end(self):\n        pass\n")
    head = "from metaflow import FlowSpec, step\n\nclass ChainFlow(FlowSpec):\n"
    return head + "\n".join(steps) + "\nif __name__ == '__main__':\n    ChainFlow()\n"


def _metaflow_fan(n: int) -> str:
    return textwrap.dedent(
        f"""
        from metaflow import FlowSpec, step

        class FanFlow(FlowSpec):
            @step
            def start(self):
                self.items = list(range({n}))
                self.next(self.work, foreach="items")

            @step
            def work(self):
                self.y = self.input
                self.next(self.join)

            @step
            def join(self, inputs):
                self.ys = [i.y for i in inputs]
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            FanFlow()
        """
    )


def _run_peer(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr or proc.stdout)[-800:])
    return elapsed, proc.stdout


def bench_prefect(chain_n: int, fan_n: int, python: str = sys.executable) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "PREFECT_HOME": tmp,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "DO_NOT_TRACK": "1",
        }
        env.pop("PREFECT_API_URL", None)
        script = Path(tmp) / "prefect_bench.py"
        script.write_text(PREFECT)
        _, stdout = _run_peer([python, str(script), str(chain_n), str(fan_n)], env, 1800)
        result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
        return result


def bench_metaflow(chain_n: int, fan_n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "METAFLOW_HOME": tmp,
            "METAFLOW_DEFAULT_DATASTORE": "local",
            "METAFLOW_DEFAULT_METADATA": "local",
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": tmp,
            "USERNAME": "bench",
        }
        for label, source, steps in (
            ("chain", _metaflow_chain(chain_n), chain_n + 2),
            ("fan", _metaflow_fan(fan_n), fan_n + 3),
        ):
            path = Path(tmp) / f"{label}_flow.py"
            path.write_text(source)
            cmd = [sys.executable, str(path), "--no-pylint", "--quiet", "run", "--max-workers", "2"]
            elapsed, _ = _run_peer(cmd, env, 3600)
            out[label] = {"steps": steps, "ms_per_step": elapsed / steps * 1e3}
    return out


# -- report ----------------------------------------------------------------------------------


_PREFECT_VENV_PYTHON = Path("/work/.prefect-venv/bin/python")  # benchmarks/peers.sh


def _default_prefect_python() -> str:
    """The venv benchmarks/peers.sh makes, else this interpreter."""
    return str(_PREFECT_VENV_PYTHON) if _PREFECT_VENV_PYTHON.exists() else sys.executable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--skip", default="", help="comma-separated peers to skip")
    parser.add_argument(
        "--prefect-python",
        default=os.environ.get("RUNYARD_BENCH_PREFECT_PYTHON", _default_prefect_python()),
        help="the interpreter with Prefect installed (a separate venv when Prefect's pins "
        "clash with this environment's FastAPI; `bash benchmarks/peers.sh prefect` makes "
        f"one at {_PREFECT_VENV_PYTHON})",
    )
    args = parser.parse_args()
    chain_n, fan_n = (20, 100) if args.quick else (100, 1000)
    mf_chain, mf_fan = (5, 10) if args.quick else (20, 50)  # Metaflow: ~0.5 s per step
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    report: dict[str, Any] = {
        "quick": args.quick,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "sizes": {
            "chain": chain_n,
            "fan": fan_n,
            "metaflow_chain": mf_chain,
            "metaflow_fan": mf_fan,
        },
        "load_average_1m": os.getloadavg()[0],
        "runyard_executors": bench_executors(fan_n),
        "runyard": bench_runyard(chain_n, fan_n),
        "peers": {},
        "notes": [],
        "prefect_python": args.prefect_python,
    }
    for name, fn, sizes in (
        ("prefect", partial(bench_prefect, python=args.prefect_python), (chain_n, fan_n)),
        ("metaflow", bench_metaflow, (mf_chain, mf_fan)),
    ):
        if name in skip:
            report["notes"].append(f"{name}: skipped by --skip")
            continue
        try:
            report["peers"][name] = fn(*sizes)
        except Exception as e:  # a peer that will not install or run offline is reported
            report["notes"].append(f"{name}: could not run: {type(e).__name__}: {e}")

    ry = report["runyard"]
    rows = [
        ("chain, inline", ry["chain_inline"]),
        ("chain, process pool", ry["chain_process"]),
        ("fan-out, inline", ry["fan_inline"]),
        ("fan-out, process pool", ry["fan_process"]),
        ("chain, all cache hits", ry["chain_cache_hit"]),
    ]
    print(f"\nPer-step overhead (chain of {chain_n}, fan-out of {fan_n} no-op steps)\n")
    header = ["runyard ms", "best", "tracking", "artifacts", "engine", "bg write"]
    header += ["prefect", "metaflow"]
    columns = " ".join(f"{h:>9}" for h in header)
    print(f"{'workload':28} {columns}  prefect/ry  metaflow/ry")
    for label, r in rows:
        kind = "chain" if label.startswith("chain") and "hits" not in label else "fan"
        peers = [
            report["peers"].get(p, {}).get(kind, {}).get("ms_per_step")
            for p in ("prefect", "metaflow")
        ]
        if "hits" in label:
            peers = [None, None]
        cells = [f"{p:9.2f}" if p else f"{'-':>9}" for p in peers]
        ratios = [f"{p / r['ms_per_step']:10.1f}x" if p else f"{'-':>11}" for p in peers]
        print(
            f"{label:28} {r['ms_per_step']:11.3f} {r['best_ms_per_step']:9.3f} "
            f"{r['tracking_ms_per_step']:9.3f} {r['artifacts_ms_per_step']:9.3f} "
            f"{r['engine_ms_per_step']:9.3f} {r['background_ms_per_step']:9.3f} "
            f"{cells[0]} {cells[1]} {ratios[0]} {ratios[1]:>12}"
        )
    ex = report["runyard_executors"]
    print(
        f"\nexecutor alone: inline {ex['inline']['ms_per_task']:.3f} ms/task, "
        f"process pool {ex['process']['ms_per_task']:.3f} ms/task"
    )
    print(
        "runyard ms = median of 3 runs (best = fastest); 'tracking' / 'artifacts' = time the "
        "runner spends inside tracking-store calls (SQLite) and artifact-store calls (blob "
        "writes, reads, fsyncs); 'engine' = the rest of its time (graph, keys, scheduling, "
        "serialization, execution); 'bg write' = time runyard's background writer spends in "
        "the stores, alongside the runner (not part of the total)"
    )
    goals = {label: (ry[key]["ms_per_step"], limit) for label, key, limit in GOALS}
    report["goals"] = {
        k: {"ms_per_step": v, "goal_ms": g, "met": v <= g} for k, (v, g) in goals.items()
    }
    print(
        "goals: "
        + "; ".join(
            f"{k} {v:.3f} ms (goal <= {g} ms: {'met' if v <= g else 'NOT met'})"
            for k, (v, g) in goals.items()
        )
    )
    print(f"machine load average (1 min) at start: {report['load_average_1m']:.2f}")
    for note in report["notes"]:
        print("note:", note)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {RESULTS.relative_to(ROOT.parent)}")


if __name__ == "__main__":
    main()
