"""Ray executor overhead: runyard pipelines on Ray vs raw ``ray.remote`` tasks, one cluster.

Workloads (no-op work, so only orchestration is measured):
* fan-out: one step mapped over N items (default 10,000) vs N ``ray.remote`` tasks;
* chain: 100 steps each consuming the previous output vs 100 chained ``ray.remote`` calls.
runyard's figure includes everything a user gets: each step a tracked child run in SQLite,
outputs in the content-addressed artifact folder, cache keys computed (cache off).

Also a real workload: 64 training steps (scikit-learn SGD on digits, one per seed) run
inline, on the process pool and on Ray, to show the three executors agree on results.

    python benchmarks/bench_ray.py            # 10,000-way fan-out, 100-step chain
    python benchmarks/bench_ray.py --quick    # 1,000-way fan-out, 50-step chain

Each workload runs ``--repeats`` times (the chain, which takes well under a second,
``--chain-repeats`` times), raw Ray and runyard alternating; the table shows the median of
each side (the machine may be shared: the JSON keeps every time).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import print_table, save

import runyard as ry


@ry.step(cache=False)
def noop(x: int) -> int:
    return x


@ry.step(cache=False)
def count(xs: list[int]) -> int:
    return len(xs)


@ry.step(cache=False)
def items(n: int) -> list[int]:
    return list(range(n))


@ry.pipeline
def fan(n: int = 10) -> int:
    return count(noop.map(x=items(n)))


def make_chain(length: int) -> Any:
    @ry.pipeline(name=f"chain{length}")
    def chain(start: int = 0) -> int:
        x = start
        for _ in range(length):
            x = noop(x)
        return x

    return chain


@ry.step
def fit_digits(seed: int) -> float:
    from sklearn.datasets import load_digits
    from sklearn.linear_model import SGDClassifier
    from sklearn.model_selection import train_test_split

    data = load_digits()
    xtr, xte, ytr, yte = train_test_split(data.data, data.target, random_state=seed)
    model = SGDClassifier(random_state=seed, max_iter=20, tol=None).fit(xtr, ytr)
    return float(model.score(xte, yte))


@ry.step
def collect(scores: list[float]) -> list[float]:
    return scores


@ry.pipeline
def sweep_digits(seeds: list[int] = [0]) -> list[float]:  # noqa: B006
    return collect(fit_digits.map(seed=seeds))


def timed(fn: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    value = fn()
    return time.perf_counter() - t, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fanout", type=int, default=10_000)
    parser.add_argument("--chain", type=int, default=100)
    parser.add_argument("--train-steps", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chain-repeats", type=int, default=9)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.fanout, args.chain, args.train_steps, args.repeats = 1000, 50, 16, 1
        args.chain_repeats = 3

    import ray

    from runyard.executors.ray import RayExecutor

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.2",
        configure_logging=False,
        log_to_driver=False,
    )

    @ray.remote
    def raw_noop(x: int) -> int:
        return x

    executor = RayExecutor()
    rows, out = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        store = f"sqlite:///{Path(tmp) / 'ry.db'}"
        arts = str(Path(tmp) / "artifacts")
        # warm the workers on both sides
        ray.get([raw_noop.remote(i) for i in range(50)])
        fan.run(n=20, executor=executor, store=store, artifacts=arts)

        def raw_chain() -> Any:
            ref = raw_noop.remote(0)
            for _ in range(args.chain - 1):
                ref = raw_noop.remote(ref)
            return ray.get(ref)

        chain = make_chain(args.chain)
        raw_chain()  # warm the chained tasks' functions on both sides
        chain.run(start=0, executor=executor, store=store, artifacts=arts)
        times: dict[str, list[float]] = {k: [] for k in ("raw_fan", "ry_fan", "raw_ch", "ry_ch")}
        for _ in range(args.repeats):
            secs, _ = timed(lambda: ray.get([raw_noop.remote(i) for i in range(args.fanout)]))
            times["raw_fan"].append(secs)
            secs, res = timed(
                lambda: fan.run(n=args.fanout, executor=executor, store=store, artifacts=arts)
            )
            assert res.value == args.fanout
            times["ry_fan"].append(secs)
        for _ in range(args.chain_repeats):
            times["raw_ch"].append(timed(raw_chain)[0])
            secs, res = timed(
                lambda: chain.run(start=0, executor=executor, store=store, artifacts=arts)
            )
            assert res.value == 0
            times["ry_ch"].append(secs)
        for name, ours_all, raw_all, n in (
            (f"fan-out {args.fanout}", times["ry_fan"], times["raw_fan"], args.fanout),
            (f"chain {args.chain}", times["ry_ch"], times["raw_ch"], args.chain),
        ):
            ours, raw = statistics.median(ours_all), statistics.median(raw_all)
            out[name] = {
                "runyard_s": ours,
                "raw_ray_s": raw,
                "ratio": ours / raw,
                "runyard_ms_per_step": ours * 1000 / n,
                "raw_ms_per_task": raw * 1000 / n,
                "runyard_all_s": ours_all,
                "raw_ray_all_s": raw_all,
            }
            rows.append([name, ours, raw, ours * 1000 / n, raw * 1000 / n, ours / raw])
        print_table(
            f"runyard on Ray vs raw ray.remote (same local cluster, 2 CPUs, median of "
            f"{args.repeats}, chain {args.chain_repeats})",
            ["workload", "runyard s", "raw Ray s", "runyard ms/step", "raw ms/task", "ratio"],
            rows,
        )

        seeds = list(range(args.train_steps))
        agree: dict[str, Any] = {}
        for label, ex in (("inline", "inline"), ("process", "process"), ("ray", executor)):
            secs, res = timed(
                lambda ex=ex: sweep_digits.run(
                    seeds=seeds, executor=ex, store=store, artifacts=arts, cache=False
                )
            )
            agree[label] = {"seconds": secs, "scores": res.value}
        same = agree["inline"]["scores"] == agree["process"]["scores"] == agree["ray"]["scores"]
        print_table(
            f"{args.train_steps} training steps (SGD on digits), one per seed",
            ["executor", "seconds", "mean accuracy", "identical to inline"],
            [
                [
                    k,
                    v["seconds"],
                    sum(v["scores"]) / len(v["scores"]),
                    v["scores"] == agree["inline"]["scores"],
                ]
                for k, v in agree.items()
            ],
        )
        out["training"] = {k: {"seconds": v["seconds"]} for k, v in agree.items()}
        out["training_results_identical"] = same
    executor.shutdown()
    ray.shutdown()
    save("ray", {"args": vars(args), "results": out})


if __name__ == "__main__":
    main()
