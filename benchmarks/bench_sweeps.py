"""Sweeps: runyard vs Ray Tune vs plain Optuna, side by side, one run.

Part 1 — early stopping on a Digits MLP (tiny torch MLP, 27 epochs max, lr / hidden /
dropout space, a budget of N epochs in total, several seeds):

* random search without early stopping (runyard, scheduler=None),
* runyard random + ASHA, runyard TPE + Hyperband,
* Ray Tune random + ASHA (local Ray on 127.0.0.2, 2 CPUs),
* plain Optuna TPE + Hyperband pruner (``study.optimize``).

Every method's objective appends one line per trained epoch to its own events file and
stops training when the budget is spent, so "epochs" count the same thing for all. Reported:
best validation accuracy after 25/50/100 % of the budget and the epochs needed to first reach
the target accuracy.

Part 2 — per-trial overhead: trivial trials at concurrency 4, runyard (process executor,
SQLite store) vs Ray Tune vs plain Optuna with its RDB storage on SQLite.

Usage: ``python benchmarks/bench_sweeps.py [--quick]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _harness import print_table, save  # noqa: E402

EPOCHS = 27
_LINE = "{:017.6f} {:8.6f}\n"
_LINE_LEN = len(_LINE.format(0.0, 0.0))


# -- the objective shared by every method ---------------------------------------------------


class Budget:
    """Counts trained epochs in a file shared by all workers of a method."""

    def __init__(self, path: str, epochs: int) -> None:
        self.path, self.epochs = path, epochs

    def spent(self) -> bool:
        try:
            return os.path.getsize(self.path) // _LINE_LEN >= self.epochs
        except FileNotFoundError:
            return False

    def record(self, acc: float) -> None:
        with open(self.path, "a") as f:
            f.write(_LINE.format(time.time(), acc))


def train(params: dict[str, Any], budget: Budget, report: Any) -> float:
    """Train the MLP epoch by epoch; ``report(acc, epoch)`` may raise to stop early."""
    import numpy as np
    import torch
    from sklearn.datasets import load_digits

    torch.set_num_threads(1)
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x = torch.tensor(x[order] / 16.0, dtype=torch.float32)
    y = torch.tensor(y[order])
    xt, yt, xv, yv = x[:1300], y[:1300], x[1300:], y[1300:]
    torch.manual_seed(0)
    hidden = int(params["hidden"])
    model = torch.nn.Sequential(
        torch.nn.Linear(64, hidden),
        torch.nn.ReLU(),
        torch.nn.Dropout(float(params["dropout"])),
        torch.nn.Linear(hidden, 10),
    )
    opt = torch.optim.SGD(model.parameters(), lr=float(params["lr"]), momentum=0.9)
    acc = 0.0
    for epoch in range(EPOCHS):
        if budget.spent():
            break
        model.train()
        perm = torch.randperm(len(yt))
        for i in range(0, len(yt), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            if not torch.isfinite(loss):
                break
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            acc = float((model(xv).argmax(1) == yv).float().mean())
        budget.record(acc)
        report(acc, epoch)
    return acc


# -- the methods ------------------------------------------------------------------------------


def _pruner(kind: str | None) -> Any:
    """The same early-stopping settings as Ray Tune's ASHA below: grace 1 epoch, factor 3."""
    import optuna

    if kind == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=EPOCHS, reduction_factor=3
        )
    return None


def _runyard(
    sampler: str, scheduler: str | None, seed: int, budget: Budget, trials: int, uri: str
) -> None:
    import runyard.sweeps as rs

    def objective(trial: rs.Trial) -> float:
        return train(trial.params, budget, trial.report)

    rs.sweep(
        objective,
        {"lr": rs.loguniform(1e-4, 1.0), "hidden": rs.choice([64, 128, 256]),
         "dropout": rs.uniform(0.0, 0.5)},
        metric="acc", mode="max", sampler=sampler, scheduler=_pruner(scheduler), trials=trials,
        concurrency=2, executor="process", seed=seed, tracking_uri=uri,
        name=f"{sampler}-{scheduler}-{seed}", max_consecutive_failures=1000,
    )  # fmt: skip


def _optuna(seed: int, budget: Budget, trials: int) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        params = {
            "lr": trial.suggest_float("lr", 1e-4, 1.0, log=True),
            "hidden": trial.suggest_categorical("hidden", [64, 128, 256]),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        }

        def report(acc: float, epoch: int) -> None:
            trial.report(acc, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

        if budget.spent():
            trial.study.stop()
        return train(params, budget, report)

    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=_pruner("hyperband"),
    )  # fmt: skip
    study.optimize(objective, n_trials=trials, n_jobs=2)


def _ray_init() -> None:
    import ray

    if not ray.is_initialized():
        ray.init(
            address="local", num_cpus=2, include_dashboard=False,
            _node_ip_address="127.0.0.2",
            log_to_driver=False, logging_level="ERROR",
        )  # fmt: skip


def _ray(seed: int, budget: Budget, trials: int, storage: str) -> None:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    _ray_init()

    def trainable(config: dict[str, Any]) -> None:
        train(config, budget, lambda acc, epoch: tune.report({"acc": acc}))

    space = {
        "lr": tune.loguniform(1e-4, 1.0), "hidden": tune.choice([64, 128, 256]),
        "dropout": tune.uniform(0.0, 0.5),
    }  # fmt: skip
    from ray.tune.search.basic_variant import BasicVariantGenerator

    tuner = tune.Tuner(
        trainable,
        param_space=space,
        tune_config=tune.TuneConfig(
            num_samples=trials, max_concurrent_trials=2, metric="acc", mode="max",
            scheduler=ASHAScheduler(max_t=EPOCHS, grace_period=1, reduction_factor=3),
            search_alg=BasicVariantGenerator(random_state=seed),
        ),
        run_config=tune.RunConfig(storage_path=storage, verbose=0, stop=_stopper(budget)),
    )  # fmt: skip
    tuner.fit()


def _stopper(budget: Budget) -> Any:
    """A Ray Tune stopper that ends the experiment once the epoch budget is spent."""
    from ray.tune import Stopper

    class BudgetStopper(Stopper):  # type: ignore[misc]
        def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
            return False

        def stop_all(self) -> bool:
            return budget.spent()

    return BudgetStopper()


def _analyse(path: str, budget: int, target: float) -> dict[str, Any]:
    lines = Path(path).read_text().splitlines() if Path(path).exists() else []
    events = sorted((float(t), float(a)) for t, a in (ln.split() for ln in lines))[:budget]
    best, to_target, marks = 0.0, None, {}
    for i, (_, acc) in enumerate(events, 1):
        best = max(best, acc)
        if to_target is None and acc >= target:
            to_target = i
        for frac in (0.25, 0.5, 1.0):
            if i == int(budget * frac):
                marks[frac] = best
    for frac in (0.25, 0.5, 1.0):
        marks.setdefault(frac, best)
    return {"epochs": len(events), "best": marks, "epochs_to_target": to_target}


def early_stopping(
    budget_epochs: int, seeds: list[int], target: float, work: Path
) -> dict[str, Any]:
    methods = {
        "random, no early stopping": lambda s, b: _runyard(
            "random", None, s, b, budget_epochs // EPOCHS + 1, f"sqlite:///{work}/ry.db"),
        "runyard random + ASHA": lambda s, b: _runyard(
            "random", "asha", s, b, budget_epochs // 3, f"sqlite:///{work}/ry.db"),
        "runyard TPE + Hyperband": lambda s, b: _runyard(
            "tpe", "hyperband", s, b, budget_epochs // 3, f"sqlite:///{work}/ry.db"),
        "Ray Tune ASHA": lambda s, b: _ray(s, b, budget_epochs // 3, str(work / "ray")),
        "Optuna TPE + Hyperband": lambda s, b: _optuna(s, b, budget_epochs),
    }  # fmt: skip
    out: dict[str, Any] = {}
    for name, run in methods.items():
        per_seed = []
        for seed in seeds:
            path = str(work / f"events-{abs(hash(name))}-{seed}.txt")
            t0 = time.perf_counter()
            run(seed, Budget(path, budget_epochs))
            result = _analyse(path, budget_epochs, target)
            result["seconds"] = time.perf_counter() - t0
            per_seed.append(result)
            print(f"  {name} seed {seed}: {result}", flush=True)
        out[name] = per_seed
    return out


# -- overhead -----------------------------------------------------------------------------


def overhead(trials: int, work: Path) -> dict[str, float]:
    import optuna

    import runyard.sweeps as rs

    def trivial(trial: Any) -> float:
        return float(trial.params["x"])

    results: dict[str, float] = {}
    t0 = time.perf_counter()
    rs.sweep(
        trivial, {"x": rs.uniform(0.0, 1.0)}, sampler="random", trials=trials, concurrency=4,
        executor="process", tracking_uri=f"sqlite:///{work}/overhead.db", name="overhead",
    )  # fmt: skip
    results["runyard"] = (time.perf_counter() - t0) / trials

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    t0 = time.perf_counter()
    study = optuna.create_study(
        storage=f"sqlite:///{work}/optuna.db", sampler=optuna.samplers.RandomSampler(),
        direction="maximize",
    )  # fmt: skip
    study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=trials, n_jobs=4)
    results["Optuna (RDB on SQLite)"] = (time.perf_counter() - t0) / trials

    from ray import tune

    _ray_init()

    def ray_trivial(config: dict[str, Any]) -> None:
        tune.report({"x": config["x"]})

    t0 = time.perf_counter()
    tune.Tuner(
        tune.with_resources(ray_trivial, {"cpu": 0.5}),
        param_space={"x": tune.uniform(0.0, 1.0)},
        tune_config=tune.TuneConfig(num_samples=trials, max_concurrent_trials=4),
        run_config=tune.RunConfig(storage_path=str(work / "ray-overhead"), verbose=0),
    ).fit()
    results["Ray Tune"] = (time.perf_counter() - t0) / trials
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small version")
    args = parser.parse_args()
    budget = EPOCHS * (5 if args.quick else 12)
    seeds = [0, 1] if args.quick else [0, 1, 2]
    overhead_trials = 100 if args.quick else 1000
    target = 0.985
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        es = early_stopping(budget, seeds, target, work)
        oh = overhead(overhead_trials, work)

    rows = []
    base_name = "random, no early stopping"
    base = [r["epochs_to_target"] for r in es[base_name]]
    for name, per_seed in es.items():
        to_target = [r["epochs_to_target"] for r in per_seed]
        reached = [t for t in to_target if t is not None]
        ratio = []
        for b, t in zip(base, to_target, strict=True):
            b_eff = b if b is not None else budget  # not reached: at least the budget
            if t is not None:
                ratio.append(b_eff / t)
        rows.append([
            name,
            statistics.mean(r["best"][0.25] for r in per_seed),
            statistics.mean(r["best"][0.5] for r in per_seed),
            statistics.mean(r["best"][1.0] for r in per_seed),
            f"{len(reached)}/{len(per_seed)}",
            statistics.median(reached) if reached else "-",
            f"{statistics.mean(ratio):.2f}x" if ratio else "-",
        ])  # fmt: skip
    print_table(
        f"Digits MLP, budget {budget} epochs, {len(seeds)} seeds, target acc {target} "
        "(best acc = mean over seeds; ratio = epochs of random-no-ES / epochs of method)",
        ["method", "best@25%", "best@50%", "best@100%", "reached", "median epochs", "vs no-ES"],
        rows,
    )
    ray_cost = oh["Ray Tune"]
    print_table(
        f"Per-trial overhead, {overhead_trials} trivial trials, concurrency 4",
        ["system", "ms/trial", "vs runyard"],
        [[k, v * 1000, f"{v / oh['runyard']:.2f}x"] for k, v in oh.items()],
    )
    print(f"\nrunyard / Ray Tune overhead: {oh['runyard'] / ray_cost:.2f}")
    save(
        "sweeps",
        {
            "quick": args.quick,
            "budget_epochs": budget,
            "seeds": seeds,
            "target": target,
            "early_stopping": json.loads(json.dumps(es, default=str)),
            "overhead_s_per_trial": oh,
            "overhead_trials": overhead_trials,
        },
    )


if __name__ == "__main__":
    main()
