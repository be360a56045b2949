"""Sweeps: runyard vs Ray Tune vs plain Optuna, side by side, one run.

Part 1 — early stopping on a Digits MLP (tiny torch MLP, 27 epochs max, the issue's space
lr ~ loguniform(1e-4, 1), hidden ~ choice(64, 128, 256), dropout ~ uniform(0, 0.5), a budget
of N epochs in total, several seeds):

* random search without early stopping (runyard, scheduler=None),
* runyard random + ASHA, runyard TPE + Hyperband,
* Ray Tune random + ASHA (local Ray on 127.0.0.2, 2 CPUs),
* plain Optuna TPE + Hyperband pruner (``study.optimize``).

Every method uses 2 workers, the same early-stopping settings (by default grace 1 epoch,
reduction factor 3, max 27 epochs) and the same stopping rule: trials keep starting until the epoch
budget is spent (the number of trials is never the limit). Each trained epoch appends a line
to the method's events file, so "epochs" count the same thing for all: the epochs the whole
sweep has consumed, in time order. Reported: best validation accuracy after 25/50/100 % of
the budget, and the epochs the sweep consumed until some trial first reached the target.
The step a trial reports is the number of epochs trained so far (Ray Tune's
``training_iteration``), so Optuna's rungs (steps 1, 3, 9, 27) are Ray Tune's.

The default target, 0.989 (at least 492 of the 497 validation digits), is what the top 10 %
of the space reaches within 27 epochs: ``--survey 1000`` trains 1,000 random configurations
for 27 epochs each (141 reach 492/497) and saves their learning curves in
``results/sweeps_survey.json``. ``--replay`` replays Optuna's and Ray Tune's schedulers on
those curves for many settings and targets, without training (``_sweeps_replay.py``).
``--best`` replays runyard's and Ray Tune's ASHA to the budget on the same configuration orders
and compares the best accuracy each has seen after 25 / 50 / 100 % of it (``_sweeps_best.py``).
``--promotion`` replays the paper's promotion-based ASHA (pause and resume) on the survey
(``_sweeps_promotion.py``). ``--bound`` asks what rank-based stopping could save with hindsight
of the survey's quantiles, and replays large reduction factors and a fixed cut online
(``_sweeps_bound.py``). ``--recipes N`` surveys N configurations under each of seven
training recipes (optimizer, learning-rate decay, validation size) and replays the same
schedulers on each (``_sweeps_recipes.py``): does the recipe decide what early stopping saves?
``--target``, ``--grace``, ``--reduction-factor``, ``--budget-trials`` and ``--seeds`` change
the run's settings (the same for every method); ``--methods`` runs some of the methods only.

Part 2 — per-trial overhead: 1,000 trivial trials at concurrency 4, runyard (process executor;
SQLite and PostgreSQL stores) vs Ray Tune vs plain Optuna with its RDB storage on the same
SQLite and PostgreSQL. PostgreSQL is the server at 127.0.0.1:5432 (user postgres); a fresh
database is created and dropped; without the server those rows are skipped.

Usage: ``python benchmarks/bench_sweeps.py [--quick] [--part es|overhead|all] [--survey N]
[--replay [--orders N]] [--best] [--promotion] [--bound] [--recipes N] [--target A] [--grace G]
[--reduction-factor F] [--budget-trials N] [--seeds N] [--methods no-es,runyard-asha,...]
[--save-as NAME]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import _sweeps_replay as replay_mod  # noqa: E402
from _harness import print_table, save  # noqa: E402

EPOCHS = 27
TARGET = 0.989
GRACE, FACTOR = 1, 3
WORKERS = 2
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
_LINE = "{:017.6f} {:8.6f}\n"
_LINE_LEN = len(_LINE.format(0.0, 0.0))
NO_ES = "random, no early stopping"
RY_ASHA = "runyard random + ASHA"
RAY_ASHA = "Ray Tune ASHA"
RY_TPE_HB = "runyard TPE + Hyperband"
RY_TPE_ASHA = "runyard TPE + ASHA"
RY_TPE = "runyard TPE, no early stopping"
OPTUNA_TPE_HB = "Optuna TPE + Hyperband"


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


def train(
    params: dict[str, Any],
    budget: Budget,
    report: Callable[[float, int], None],
    recipe: Mapping[str, Any] | None = None,
) -> float:
    """Train the MLP epoch by epoch; ``report(acc, epochs_done)`` may raise to stop early.

    ``recipe`` (the recipe study only, ``_sweeps_recipes.py``) changes the optimizer
    (``"adam"``), decays the learning rate by ``gamma`` per epoch, or trains on ``ntrain``
    digits; the default is the benchmark's: SGD with momentum 0.9, a constant learning rate,
    1,300 training and 497 validation digits.
    """
    import numpy as np
    import torch
    from sklearn.datasets import load_digits

    recipe = recipe or {}
    torch.set_num_threads(1)
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x = torch.tensor(x[order] / 16.0, dtype=torch.float32)
    y = torch.tensor(y[order])
    n = int(recipe.get("ntrain", 1300))
    xt, yt, xv, yv = x[:n], y[:n], x[n:], y[n:]
    torch.manual_seed(0)
    hidden = int(params["hidden"])
    model = torch.nn.Sequential(
        torch.nn.Linear(64, hidden),
        torch.nn.ReLU(),
        torch.nn.Dropout(float(params["dropout"])),
        torch.nn.Linear(hidden, 10),
    )
    lr = float(params["lr"])
    opt: torch.optim.Optimizer = (
        torch.optim.Adam(model.parameters(), lr=lr)
        if recipe.get("optimizer") == "adam"
        else torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    )
    decay = torch.optim.lr_scheduler.ExponentialLR(opt, float(recipe.get("gamma", 1.0)))
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
        decay.step()
        model.eval()
        with torch.no_grad():
            acc = float((model(xv).argmax(1) == yv).float().mean())
        budget.record(acc)
        report(acc, epoch + 1)  # the resource used so far: epochs trained
    return acc


# -- the methods ------------------------------------------------------------------------------


def _pruner(kind: str | None) -> Any:
    """Optuna's pruners with Ray Tune's ASHA settings below: grace 1 epoch, factor 3, max 27."""
    import optuna

    if kind == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=GRACE, reduction_factor=FACTOR)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=GRACE, max_resource=EPOCHS, reduction_factor=FACTOR
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
        concurrency=WORKERS, executor="process", seed=seed, tracking_uri=uri,
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

        def report(acc: float, step: int) -> None:
            trial.report(acc, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        if budget.spent():
            trial.study.stop()
        return train(params, budget, report)

    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=_pruner("hyperband"),
    )  # fmt: skip
    study.optimize(objective, n_trials=trials, n_jobs=WORKERS)


def _ray_init() -> None:
    import ray

    if not ray.is_initialized():
        ray.init(
            address="local", num_cpus=WORKERS, include_dashboard=False,
            _node_ip_address="127.0.0.2", log_to_driver=False, logging_level="ERROR",
        )  # fmt: skip


def _ray(seed: int, budget: Budget, trials: int, storage: str) -> None:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.basic_variant import BasicVariantGenerator

    _ray_init()

    def trainable(config: dict[str, Any]) -> None:
        train(config, budget, lambda acc, epoch: tune.report({"acc": acc}))

    space = {
        "lr": tune.loguniform(1e-4, 1.0), "hidden": tune.choice([64, 128, 256]),
        "dropout": tune.uniform(0.0, 0.5),
    }  # fmt: skip
    tuner = tune.Tuner(
        trainable,
        param_space=space,
        tune_config=tune.TuneConfig(
            num_samples=trials, max_concurrent_trials=WORKERS, metric="acc", mode="max",
            scheduler=ASHAScheduler(max_t=EPOCHS, grace_period=GRACE, reduction_factor=FACTOR),
            search_alg=BasicVariantGenerator(random_state=seed), reuse_actors=True,
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


METHODS = {"no-es": NO_ES, "runyard-asha": RY_ASHA, "runyard-tpe-hyperband": RY_TPE_HB,
           "ray-asha": RAY_ASHA, "optuna-tpe-hyperband": OPTUNA_TPE_HB,
           "runyard-tpe-asha": RY_TPE_ASHA, "runyard-tpe": RY_TPE}  # fmt: skip


def early_stopping(
    budget_epochs: int, seeds: list[int], target: float, work: Path, only: list[str]
) -> dict[str, list[dict[str, Any]]]:
    uri = f"sqlite:///{work}/ry.db"
    no_es_trials = budget_epochs // EPOCHS + 1  # every trial trains 27 epochs
    methods: dict[str, Callable[[int, Budget], None]] = {
        NO_ES: lambda s, b: _runyard("random", None, s, b, no_es_trials, uri),
        RY_ASHA: lambda s, b: _runyard("random", "asha", s, b, budget_epochs, uri),
        RY_TPE_HB: lambda s, b: _runyard("tpe", "hyperband", s, b, budget_epochs, uri),
        RAY_ASHA: lambda s, b: _ray(s, b, budget_epochs, str(work / "ray")),
        OPTUNA_TPE_HB: lambda s, b: _optuna(s, b, budget_epochs),
        RY_TPE_ASHA: lambda s, b: _runyard("tpe", "asha", s, b, budget_epochs, uri),
        RY_TPE: lambda s, b: _runyard("tpe", None, s, b, no_es_trials, uri),
    }  # fmt: skip
    out: dict[str, list[dict[str, Any]]] = {}
    for index, (name, run) in enumerate(methods.items()):
        if name not in only:
            continue
        per_seed = []
        for seed in seeds:
            path = str(work / f"events-{index}-{seed}.txt")
            t0 = time.perf_counter()
            run(seed, Budget(path, budget_epochs))
            result = _analyse(path, budget_epochs, target)
            result["seconds"] = time.perf_counter() - t0
            per_seed.append(result)
            print(f"  {name} seed {seed}: {result}", flush=True)
        out[name] = per_seed
    return out


def survey(n: int) -> None:
    """Train ``n`` random configurations for 27 epochs; save their learning curves for the
    replay (``results/sweeps_survey.json``) and print the accuracies they reach."""
    from concurrent.futures import ProcessPoolExecutor

    configs = replay_mod.sample_configs(n)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(WORKERS) as pool:
        curves = list(pool.map(_curve_of, configs, chunksize=8))
    bests = sorted((max(c) for c in curves), reverse=True)
    print(f"best accuracy within 27 epochs of {n} random configurations:")
    for level in sorted(set(bests), reverse=True)[:8]:
        reached = sum(b >= level for b in bests)
        print(f"  >= {level:.4f} ({round(level * 497)}/497): {reached} of {n}")
    for name, level in replay_mod.top_targets(curves).items():
        print(f"  {name}: {level:.4f} ({round(level * 497)}/497)")
    seconds = time.perf_counter() - t0
    encoded = replay_mod.encode_curves(curves)
    save("sweeps_survey", {"n": n, "epochs": EPOCHS, "seconds": seconds, "configs": configs,
                           "correct_of_497": encoded})  # fmt: skip


def _curve_of(params: dict[str, Any], recipe: Mapping[str, Any] | None = None) -> list[float]:
    accs: list[float] = []
    train(params, Budget(os.devnull, 10**9), lambda acc, step: accs.append(acc), recipe)
    return accs


# -- overhead -----------------------------------------------------------------------------


def _trivial(trial: Any) -> float:
    return float(trial.params["x"])


@contextmanager
def _pg_database() -> Iterator[str | None]:
    """A fresh PostgreSQL database (dropped afterwards), or None when there is no server."""
    import sqlalchemy as sa

    admin = sa.create_engine(f"{PG_SERVER}/test", isolation_level="AUTOCOMMIT")
    name = f"runyard_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as e:
        print(f"  PostgreSQL rows skipped: {e.orig}")
        admin.dispose()
        yield None
        return
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _time_runyard(trials: int, uri: str) -> float:
    import runyard.sweeps as rs

    t0 = time.perf_counter()
    result = rs.sweep(
        _trivial, {"x": rs.uniform(0.0, 1.0)}, sampler="random", trials=trials, concurrency=4,
        executor="process", tracking_uri=uri, name=f"overhead-{uuid.uuid4().hex[:6]}",
    )  # fmt: skip
    elapsed = time.perf_counter() - t0
    done = result.counts()["COMPLETE"]
    if done != trials:
        raise RuntimeError(f"runyard overhead sweep completed {done} of {trials} trials")
    return elapsed / trials


def _time_optuna(trials: int, storage: str) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    t0 = time.perf_counter()
    study = optuna.create_study(
        storage=storage, sampler=optuna.samplers.RandomSampler(), direction="maximize",
        study_name=f"overhead-{uuid.uuid4().hex[:6]}",
    )  # fmt: skip
    study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=trials, n_jobs=4)
    elapsed = time.perf_counter() - t0
    if len(study.trials) != trials:
        raise RuntimeError(f"Optuna overhead study ran {len(study.trials)} of {trials} trials")
    return elapsed / trials


def _ray_trivial(config: dict[str, Any]) -> None:
    from ray import tune

    tune.report({"x": config["x"]})


def _time_ray(trials: int, work: Path) -> float:
    from ray import tune

    _ray_init()
    t0 = time.perf_counter()
    results = tune.Tuner(
        tune.with_resources(_ray_trivial, {"cpu": WORKERS / 4}),
        param_space={"x": tune.uniform(0.0, 1.0)},
        # reuse_actors: Ray Tune's own advice for many short trials (one actor per slot)
        tune_config=tune.TuneConfig(num_samples=trials, max_concurrent_trials=4, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=str(work / "ray-overhead"), verbose=0),
    ).fit()
    elapsed = time.perf_counter() - t0
    if len(results) != trials or results.errors:
        raise RuntimeError(f"Ray Tune ran {len(results)} of {trials} trials: {results.errors}")
    return elapsed / trials


def overhead(trials: int, work: Path) -> dict[str, float]:
    """Seconds per trivial trial, end to end (Ray's own start-up is not counted)."""
    results = {
        "runyard (SQLite)": _time_runyard(trials, f"sqlite:///{work}/overhead.db"),
        "Optuna RDB (SQLite)": _time_optuna(trials, f"sqlite:///{work}/optuna.db"),
    }
    with _pg_database() as pg:
        if pg is not None:
            results["runyard (PostgreSQL)"] = _time_runyard(trials, pg)
    with _pg_database() as pg:
        if pg is not None:
            results["Optuna RDB (PostgreSQL)"] = _time_optuna(
                trials, pg.replace("postgresql://", "postgresql+psycopg://")
            )
    results["Ray Tune"] = _time_ray(trials, work)
    for name, value in results.items():
        print(f"  {name}: {value * 1000:.1f} ms/trial", flush=True)
    return results


# -- report -------------------------------------------------------------------------------


def _es_tables(
    es: dict[str, list[dict[str, Any]]], budget: int, seeds: list[int]
) -> dict[str, Any]:
    """Print the early-stopping tables; return the summary that goes into the JSON."""

    def to_target(r: dict[str, Any]) -> int:
        return int(r["epochs_to_target"]) if r["epochs_to_target"] is not None else budget

    base_total = sum(to_target(r) for r in es[NO_ES])
    rows, summary = [], {}
    for name, per_seed in es.items():
        total = sum(to_target(r) for r in per_seed)
        missed = sum(r["epochs_to_target"] is None for r in per_seed)
        ratio = base_total / total
        summary[name] = {
            "epochs_to_target": [r["epochs_to_target"] for r in per_seed],
            "epochs_to_target_total": total,
            "missed": missed,
            "fewer_epochs_than_no_es": ratio,
            "best_mean": {str(f): statistics.mean(r["best"][f] for r in per_seed)
                          for f in (0.25, 0.5, 1.0)},
        }  # fmt: skip
        rows.append([
            name,
            " / ".join("-" if r["epochs_to_target"] is None else str(r["epochs_to_target"])
                       for r in per_seed),
            total, f"{ratio:.2f}x",
            *(statistics.mean(r["best"][f] for r in per_seed) for f in (0.25, 0.5, 1.0)),
        ])  # fmt: skip
    print_table(
        f"Digits MLP, budget {budget} epochs, seeds {seeds}, target acc {TARGET} "
        f"('-' = not reached within the budget, counted as {budget})",
        ["method", "epochs to target per seed", "total", "vs no-ES",
         "best@25%", "best@50%", "best@100%"],
        rows,
    )  # fmt: skip
    if RY_ASHA not in es or RAY_ASHA not in es:
        return summary
    vs_ray = []
    for frac in (0.25, 0.5, 1.0):
        ours = [r["best"][frac] for r in es[RY_ASHA]]
        theirs = [r["best"][frac] for r in es[RAY_ASHA]]
        vs_ray.append([f"{int(frac * 100)}% of the budget", " / ".join(f"{v:.4f}" for v in ours),
                       " / ".join(f"{v:.4f}" for v in theirs),
                       statistics.mean(ours) - statistics.mean(theirs)])  # fmt: skip
    print_table(
        "Best accuracy per seed, runyard random + ASHA vs Ray Tune ASHA",
        ["budget", "runyard", "Ray Tune", "mean difference"],
        vs_ray,
    )
    return summary


def main() -> None:
    global TARGET, GRACE, FACTOR  # the settings every method shares, from the command line
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small version")
    parser.add_argument("--part", choices=["es", "overhead", "all"], default="all")
    parser.add_argument("--survey", type=int, default=0, help="survey N configurations, exit")
    parser.add_argument("--replay", action="store_true", help="replay rules on the survey, exit")
    parser.add_argument(
        "--best", action="store_true", help="replay: best accuracy per budget, ASHA rules paired"
    )
    parser.add_argument(
        "--promotion", action="store_true", help="replay promotion-based ASHA on the survey"
    )
    parser.add_argument(
        "--bound", action="store_true", help="hindsight ceiling of rank rules; large factors online"
    )
    parser.add_argument(
        "--recipes", type=int, default=0, help="survey N configurations per training recipe, replay"
    )
    parser.add_argument("--orders", type=int, default=300, help="replay: sweeps per rule")
    parser.add_argument("--target", type=float, default=TARGET, help="target accuracy")
    parser.add_argument("--grace", type=int, default=GRACE, help="min resource (epochs)")
    parser.add_argument("--reduction-factor", type=int, default=FACTOR)
    parser.add_argument("--budget-trials", type=int, default=0, help="budget in 27-epoch trials")
    parser.add_argument("--seeds", type=int, default=0, help="number of seeds")
    parser.add_argument("--save-as", default="", help="results file name (default: by --part)")
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help=f"comma-separated, no-es first: {list(METHODS)}",
    )
    args = parser.parse_args()
    only = [METHODS[m] for m in args.methods.split(",")]
    if only[0] != NO_ES:
        parser.error("--methods must start with no-es (the ratios are against it)")
    TARGET, GRACE, FACTOR = args.target, args.grace, args.reduction_factor
    budget = EPOCHS * (args.budget_trials or (6 if args.quick else 12))
    if args.survey:
        survey(args.survey)
        return
    if args.best:
        import _sweeps_best

        save(args.save_as or "sweeps_best", _sweeps_best.study(args.orders, budget))
        return
    if args.promotion:
        import _sweeps_promotion

        save(args.save_as or "sweeps_promotion", _sweeps_promotion.study(args.orders, budget))
        return
    if args.bound:
        import _sweeps_bound

        save(args.save_as or "sweeps_bound", _sweeps_bound.study(args.orders, budget))
        return
    if args.recipes:
        import _sweeps_recipes

        payload = _sweeps_recipes.study(args.recipes, args.orders, budget, _curve_of)
        save(args.save_as or "sweeps_recipes", payload)
        return
    if args.replay:
        payload = replay_mod.report(args.orders, WORKERS, budget, EPOCHS * 200, WORKERS,
                                    [TARGET])  # fmt: skip
        payload["stability"] = replay_mod.stability(
            args.orders, WORKERS, EPOCHS * 200, replay_mod.STABILITY_RULES, WORKERS
        )
        save("sweeps_replay", payload)
        return
    seeds = list(range(args.seeds or (2 if args.quick else 3)))
    overhead_trials = 100 if args.quick else 1000
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    payload: dict[str, Any] = {"quick": args.quick, "part": args.part}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.part in ("es", "all"):
            es = early_stopping(budget, seeds, TARGET, work, only)
            summary = _es_tables(es, budget, seeds)
            payload.update(
                budget_epochs=budget, seeds=seeds, target=TARGET, grace=GRACE,
                reduction_factor=FACTOR, workers=WORKERS, early_stopping=es,
                early_stopping_summary=summary, methods=only,
            )  # fmt: skip
        if args.part in ("overhead", "all"):
            oh = overhead(overhead_trials, work)
            base = oh["runyard (SQLite)"]
            print_table(
                f"Per-trial overhead, {overhead_trials} trivial trials, concurrency 4",
                ["system", "ms/trial", "vs runyard (SQLite)"],
                [[k, v * 1000, f"{v / base:.2f}x"] for k, v in oh.items()],
            )
            print(f"\nrunyard (SQLite) / Ray Tune per-trial overhead: {base / oh['Ray Tune']:.3f}")
            payload.update(overhead_s_per_trial=oh, overhead_trials=overhead_trials)
    if "ray" in sys.modules:  # the local Ray this run started, if any
        sys.modules["ray"].shutdown()
    save(args.save_as or ("sweeps" if args.part == "all" else f"sweeps_{args.part}"), payload)


if __name__ == "__main__":
    main()
