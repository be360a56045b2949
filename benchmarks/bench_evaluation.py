"""Evaluation benchmark: runyard vs a pandas groupby + scikit-learn baseline, side by side.

The same work on both sides: every slice of 3 slice columns and their crosses up to 2
(overall + 3 singles + 3 pairs), 5 metrics (accuracy, f1, roc_auc, log_loss, ece), and a
Poisson bootstrap with R replicates (point estimate + percentile intervals). runyard streams
the predictions from Parquet; the baseline loads them into pandas and, per replicate, draws
Poisson weights and calls scikit-learn with ``sample_weight`` on every group of every
family. The baseline would take hours at full size, so it runs the point estimate plus a few
replicates and is extrapolated linearly in R (said in the output). Each side runs in a child
process whose peak RSS is read with ``getrusage(RUSAGE_CHILDREN)``.

    python benchmarks/bench_evaluation.py            # 10M x 200 and 1M x 1000
    python benchmarks/bench_evaluation.py --quick    # 200k x 200 and 50k x 1000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

METRICS = ["accuracy", "f1", "roc_auc", "log_loss", "ece"]
SLICES = ["weather", "time_of_day", "distance_bin"]
EDGES = [10.0, 30.0, 60.0]


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """Write synthetic binary predictions in row groups of 1M rows (no downloads)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    writer = None
    chunk = 1_000_000
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        weather = rng.choice(np.array(["sun", "rain", "fog", "snow", "cloud"]), n)
        tod = rng.choice(np.array(["day", "night", "dawn", "dusk"]), n)
        distance = rng.gamma(2.0, 15.0, n)
        logit = rng.normal(0, 2, n) - (weather == "fog") * 0.5
        p = 1 / (1 + np.exp(-logit))
        y = (rng.random(n) < p).astype(np.int8)
        p_hat = np.clip(p + rng.normal(0, 0.1, n), 0.0, 1.0)
        t = pa.table(
            {
                "example_id": np.arange(start, start + n, dtype=np.int64),
                "y": y,
                "y_hat": (p_hat >= 0.5).astype(np.int8),
                "p": p_hat,
                "weather": weather,
                "time_of_day": tod,
                "distance": distance,
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(path, t.schema)
        writer.write_table(t, row_group_size=chunk)
    assert writer is not None
    writer.close()


# -- the two contenders (each runs in its own child process) ----------------------------------


def run_runyard(path: str, reps: int, executor: str) -> dict:
    import runyard.evaluation as ev

    t0 = time.perf_counter()
    res = ev.evaluate(
        path,
        label="y",
        prediction="y_hat",
        score="p",
        id="example_id",
        slices=["weather", "time_of_day", ev.bucket("distance", EDGES)],
        crosses=2,
        metrics=METRICS,
        bootstrap=reps,
        executor=None if executor == "inline" else executor,
    )
    elapsed = time.perf_counter() - t0
    df = res.to_pandas()
    return {"seconds": elapsed, "rows_out": len(df), "overall": {m: res.value(m) for m in METRICS}}


def _ece(y: np.ndarray, p: np.ndarray, w: np.ndarray, bins: int = 15) -> float:
    ids = np.searchsorted(np.linspace(0, 1, bins + 1)[1:-1], p)
    n = np.bincount(ids, weights=w, minlength=bins)
    pos = np.bincount(ids, weights=w * y, minlength=bins)
    sp = np.bincount(ids, weights=w * p, minlength=bins)
    return float(np.abs(pos - sp).sum() / n.sum())


def _group_metrics(part, w: np.ndarray) -> list[float]:  # type: ignore[no-untyped-def]
    from sklearn import metrics as skm

    y, yh, p = part["y"].to_numpy(), part["y_hat"].to_numpy(), part["p"].to_numpy()
    out = [
        skm.accuracy_score(y, yh, sample_weight=w),
        skm.f1_score(y, yh, sample_weight=w, zero_division=0),
    ]
    out.append(skm.roc_auc_score(y, p, sample_weight=w) if 0 < y.sum() < len(y) else np.nan)
    out.append(skm.log_loss(y, p, sample_weight=w, labels=[0, 1]))
    out.append(_ece(y, p, w))
    return out


def run_baseline(path: str, reps: int, measured_reps: int) -> dict:
    import warnings

    import pandas as pd

    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    df = pd.read_parquet(path, columns=["y", "y_hat", "p", "weather", "time_of_day", "distance"])
    df["distance_bin"] = np.searchsorted(EDGES, df["distance"].to_numpy(), side="right")
    families = (
        [[]]
        + [[c] for c in SLICES]
        + [[a, b] for i, a in enumerate(SLICES) for b in SLICES[i + 1 :]]
    )
    load = time.perf_counter() - t0

    def one_pass(weights: np.ndarray) -> int:
        df["_w"] = weights
        count = 0
        for fam in families:
            groups = [((), df)] if not fam else df.groupby(fam, observed=True, sort=False)
            for _, part in groups:
                _group_metrics(part, part["_w"].to_numpy())
                count += 1
        return count

    t1 = time.perf_counter()
    groups = one_pass(np.ones(len(df)))
    point = time.perf_counter() - t1
    t2 = time.perf_counter()
    for r in range(measured_reps):
        one_pass(np.random.default_rng(r).poisson(1.0, len(df)).astype(np.float64))
    per_rep = (time.perf_counter() - t2) / max(measured_reps, 1)
    return {
        "seconds": load + point + per_rep * reps,
        "measured_seconds": time.perf_counter() - t0,
        "load_seconds": load,
        "point_seconds": point,
        "seconds_per_replicate": per_rep,
        "measured_replicates": measured_reps,
        "extrapolated": measured_reps < reps,
        "groups": groups,
    }


# -- driver ----------------------------------------------------------------------------------


def child(args: list[str]) -> dict:
    """Run one contender in a fresh Python process; return its JSON and peak RSS (bytes).

    The peak is the child's own ``ru_maxrss`` from ``os.wait4`` (that process only), or the
    largest of its worker processes when it used a process pool, whichever is larger.
    """
    with tempfile.TemporaryFile("w+") as out_file, tempfile.TemporaryFile("w+") as err_file:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", *args],
            stdout=out_file,
            stderr=err_file,
            text=True,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out_file.seek(0)
        err_file.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"child {args} failed:\n{err_file.read()[-3000:]}")
        out = json.loads(out_file.read().strip().splitlines()[-1])
    workers_kib = out.pop("children_rss_kib")
    out["peak_rss_bytes"] = max(usage.ru_maxrss, workers_kib) * 1024
    out["peak_rss_workers_bytes"] = workers_kib * 1024
    return out


def scenario(tmp: Path, rows: int, reps: int, measured: int, executors: list[str]) -> dict:
    path = tmp / f"preds_{rows}.parquet"
    t0 = time.perf_counter()
    generate(path, rows)
    gen = time.perf_counter() - t0
    results = {
        "rows": rows,
        "replicates": reps,
        "generate_seconds": gen,
        "parquet_bytes": path.stat().st_size,
    }
    for ex in executors:
        results[f"runyard_{ex}"] = child(["runyard", str(path), str(reps), ex])
    results["baseline"] = child(["baseline", str(path), str(reps), str(measured)])
    base = results["baseline"]["seconds"]
    for ex in executors:
        results[f"runyard_{ex}"]["speedup_vs_baseline"] = base / results[f"runyard_{ex}"]["seconds"]
    return results


def print_table(all_results: list[dict]) -> None:
    print()
    print(f"{'scenario':<16}{'contender':<22}{'seconds':>10}{'peak RSS':>12}{'speed-up':>10}")
    for r in all_results:
        name = f"{r['rows'] / 1e6:g}M x {r['replicates']}"
        for key, value in r.items():
            if not isinstance(value, dict):
                continue
            label = (
                key
                if key != "baseline"
                else "pandas+sklearn"
                + (
                    f" (~{value['measured_replicates']} reps, extrap.)"
                    if value["extrapolated"]
                    else ""
                )
            )
            ratio = value.get("speedup_vs_baseline")
            print(
                f"{name:<16}{label:<22}{value['seconds']:>10.1f}"
                f"{value['peak_rss_bytes'] / 2**30:>10.2f}GB"
                f"{(f'{ratio:.1f}x' if ratio else '1.0x'):>10}"
            )
    print(
        "\nbaseline seconds are load + point estimate + measured seconds/replicate x R "
        "(linear extrapolation from the replicates it actually ran)."
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, path, reps = sys.argv[2], sys.argv[3], int(sys.argv[4])
        if kind == "runyard":
            out = run_runyard(path, reps, sys.argv[5])
        else:
            out = run_baseline(path, reps, int(sys.argv[5]))
        out["children_rss_kib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(json.dumps(out))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (a minute or two)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "evaluation.json"))
    args = parser.parse_args()
    if args.quick:
        plans = [(50_000, 1000, 3), (200_000, 200, 3)]
    else:
        plans = [(1_000_000, 1000, 3), (10_000_000, 200, 2)]
    executors = ["inline", "process"]
    all_results = []
    with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp:
        for rows, reps, measured in plans:
            print(f"running {rows:,} rows x {reps} replicates ...", flush=True)
            all_results.append(scenario(Path(tmp), rows, reps, measured, executors))
    print_table(all_results)
    payload = {
        "benchmark": "evaluation",
        "quick": args.quick,
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "scenarios": all_results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
