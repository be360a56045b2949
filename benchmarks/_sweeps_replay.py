"""Replay early-stopping rules on surveyed learning curves: no training, no timing noise.

``bench_sweeps.py --survey N`` trains N random configurations of the issue's space for 27
epochs each and saves their validation-accuracy curves (``results/sweeps_survey.json``). Every
trial of the benchmark trains with a fixed torch seed, so a configuration's curve is the same
whichever sweep runs it: a sweep is then a sequence of configurations drawn from the space and
a scheduler's decisions, and it can be replayed on the saved curves.

The replay draws configurations uniformly (with replacement) from the surveyed ones, runs them
on ``workers`` simulated workers that each train one epoch per tick (a freed worker starts the
next configuration at once), and asks the real scheduler objects after every epoch:

* Optuna's pruners (``SuccessiveHalvingPruner``, ``HyperbandPruner``, ``MedianPruner``) through
  an in-memory study and ask-and-tell, ``trial.report(acc, epochs_done)`` then
  ``trial.should_prune()`` — what runyard does for ``scheduler=...``;
* Ray Tune's ``AsyncHyperBandScheduler`` (``ASHAScheduler``, ``brackets`` for its asynchronous
  Hyperband) through ``on_trial_add`` / ``on_trial_result`` with ``training_iteration``.

Every rule sees the same configuration orders (common random numbers), so the differences
between rules are not sampling noise of the orders. "Epochs to target" counts the epochs the
whole replayed sweep consumed, in time order, until some trial first reached the target.
"""

from __future__ import annotations

import functools
import json
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EPOCHS = 27
VALIDATION = 497  # validation digits
SURVEY = Path(__file__).parent / "results" / "sweeps_survey.json"
# The targets: the best accuracy within 27 epochs that the top X of surveyed configurations reach.
TOP_FRACTIONS = (0.5, 0.25, 0.10, 0.05)
STABILITY_RULES = (
    "Optuna SHA grace 1 rf 3",
    "Ray ASHA grace 1 rf 3",
    "Optuna Hyperband min 1 max 27 rf 3",
    "Ray ASHA grace 1 rf 3 brackets 3",
)


def sample_configs(n: int, seed: int = 123) -> list[dict[str, Any]]:
    """N configurations drawn from the issue's space (the first 60 of seed 123 are the 60 of
    the first survey)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return [
        {"lr": float(math.exp(rng.uniform(math.log(1e-4), 0.0))),
         "hidden": int(rng.choice([64, 128, 256])), "dropout": float(rng.uniform(0.0, 0.5))}
        for _ in range(n)
    ]  # fmt: skip


def encode_curves(curves: Sequence[Sequence[float]]) -> list[str]:
    """Curves as validation digits right (of 497) per epoch, one string per curve: compact,
    and exact (``decode_curves`` gives back the very float32 accuracies)."""
    return [" ".join(str(round(acc * VALIDATION)) for acc in curve) for curve in curves]


def decode_curves(encoded: Sequence[str]) -> list[list[float]]:
    import numpy as np

    n = np.float32(VALIDATION)
    return [[float(np.float32(k) / n) for k in line.split()] for line in encoded]


def load_survey(path: Path = SURVEY) -> tuple[list[dict[str, Any]], list[list[float]]]:
    data = json.loads(path.read_text())
    return data["configs"], decode_curves(data["correct_of_497"])


def top_targets(curves: Sequence[Sequence[float]]) -> dict[str, float]:
    """The accuracy reached (at some epoch of 27) by the top 50 / 25 / 10 / 5 % of the curves."""
    bests = sorted((max(c) for c in curves), reverse=True)
    return {f"top {round(f * 100)}%": bests[max(math.ceil(f * len(bests)) - 1, 0)]
            for f in TOP_FRACTIONS}  # fmt: skip


# -- schedulers, driven the way runyard and Ray Tune drive them -----------------------------


class _NoStop:
    def start(self, number: int) -> Any:
        return number

    def report(self, handle: Any, epoch: int, acc: float) -> bool:
        return False

    def end(self, handle: Any, pruned: bool, acc: float) -> None:
        pass


class _Optuna:
    """An Optuna pruner behind an in-memory study (runyard keeps the study in its store)."""

    def __init__(self, make_pruner: Callable[[], Any], name: str) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self.study = optuna.create_study(
            direction="maximize", pruner=make_pruner(), study_name=name,
            sampler=optuna.samplers.RandomSampler(seed=0),
        )  # fmt: skip

    def start(self, number: int) -> Any:
        return self.study.ask()

    def report(self, handle: Any, epoch: int, acc: float) -> bool:
        handle.report(acc, epoch)
        return bool(handle.should_prune())

    def end(self, handle: Any, pruned: bool, acc: float) -> None:
        state = self._optuna.trial.TrialState
        if pruned:
            self.study.tell(handle, state=state.PRUNED)
        else:
            self.study.tell(handle, acc)


class _OptunaBest(_Optuna):
    """The same pruner shown each trial's best value so far instead of its latest one, as
    runyard does by default (``prune_on="best"``)."""

    def __init__(self, make_pruner: Callable[[], Any], name: str) -> None:
        super().__init__(make_pruner, name)
        self.best: dict[int, float] = {}

    def report(self, handle: Any, epoch: int, acc: float) -> bool:
        best = self.best[handle.number] = max(self.best.get(handle.number, acc), acc)
        return super().report(handle, epoch, best)


@dataclass(frozen=True)
class _RayTrial:
    trial_id: str


class _Ray:
    """Ray Tune's ``AsyncHyperBandScheduler`` with ``training_iteration`` as its time."""

    def __init__(self, make_scheduler: Callable[[], Any], seed: int) -> None:
        import numpy as np

        np.random.seed(seed)  # Ray Tune picks a trial's bracket with np.random
        self.scheduler = make_scheduler()

    def start(self, number: int) -> Any:
        trial = _RayTrial(str(number))
        self.scheduler.on_trial_add(None, trial)
        return trial

    def report(self, handle: Any, epoch: int, acc: float) -> bool:
        result = {"training_iteration": epoch, "acc": acc}
        return bool(self.scheduler.on_trial_result(None, handle, result) == "STOP")

    def end(self, handle: Any, pruned: bool, acc: float) -> None:
        if pruned:
            self.scheduler.on_trial_remove(None, handle)
        else:
            self.scheduler.on_trial_complete(
                None, handle, {"training_iteration": EPOCHS, "acc": acc}
            )


@dataclass(frozen=True)
class Rule:
    """A named early-stopping setting: ``kind`` is none / optuna / optuna-best / ray /
    custom (``make`` returns an object with the methods of ``_NoStop``)."""

    name: str
    kind: str
    make: Callable[[], Any] | None = None

    def scheduler(self, seed: int) -> Any:
        if self.kind == "none":
            return _NoStop()
        assert self.make is not None
        if self.kind == "optuna":
            return _Optuna(self.make, f"replay-{seed}")
        if self.kind == "optuna-best":
            return _OptunaBest(self.make, f"replay-{seed}")
        if self.kind == "ray":
            return _Ray(self.make, seed)
        return self.make()  # custom


def replay(
    curves: Sequence[Sequence[float]],
    order: Sequence[int],
    rule: Rule,
    seed: int,
    workers: int,
    budget: int,
    stop_at: float,
) -> list[float]:
    """The accuracies of the epochs a replayed sweep trains, in time order, until one reaches
    ``stop_at`` or ``budget`` epochs are spent."""
    scheduler = rule.scheduler(seed)
    running: list[tuple[Any, int, int] | None] = [None] * workers
    events: list[float] = []
    started = 0
    while True:
        for w in range(workers):
            if running[w] is None:
                running[w] = (scheduler.start(started), order[started % len(order)], 0)
                started += 1
            handle, index, done = running[w]  # type: ignore[misc]
            acc = curves[index][done]
            done += 1
            events.append(acc)
            if acc >= stop_at or len(events) >= budget:
                return events
            stop = scheduler.report(handle, done, acc)
            if stop or done == EPOCHS:
                scheduler.end(handle, pruned=stop and done < EPOCHS, acc=acc)
                running[w] = None
            else:
                running[w] = (handle, index, done)


def epochs_to(events: Sequence[float], target: float) -> int | None:
    return next((i for i, acc in enumerate(events, 1) if acc >= target), None)


def _one_rule(args: tuple[Rule, list[list[float]], list[list[int]], int, int, list[float]]) -> Any:
    rule, curves, orders, workers, budget, targets = args
    out = []
    for seed, order in enumerate(orders):
        events = replay(curves, order, rule, seed, workers, budget, max(targets))
        out.append([epochs_to(events, t) for t in targets])
    return out


def draw_orders(n_configs: int, n_orders: int, length: int, seed: int = 7) -> list[list[int]]:
    """``n_orders`` sweeps' configurations: ``length`` indexes into the surveyed ones each,
    drawn uniformly with replacement (the same for every rule replayed on them)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return [[int(i) for i in rng.integers(0, n_configs, length)] for _ in range(n_orders)]


def run(
    curves: list[list[float]],
    rules: Sequence[Rule],
    targets: Sequence[float],
    n_orders: int,
    workers: int,
    cap: int,
    seed: int = 7,
    processes: int = 1,
) -> dict[str, list[list[int | None]]]:
    """Per rule, per order, per target: the epochs to the target (None: not within ``cap``)."""
    orders = draw_orders(len(curves), n_orders, cap, seed)
    jobs = [(r, curves, orders, workers, cap, list(targets)) for r in rules]
    if processes > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(processes) as pool:
            results = list(pool.map(_one_rule, jobs))
    else:
        results = [_one_rule(j) for j in jobs]
    return {r.name: res for r, res in zip(rules, results, strict=True)}


def mean_epochs(per_order: list[list[int | None]], t: int, cap: int) -> float:
    """Mean epochs to target ``t`` (by index), a miss or anything past ``cap`` counted as cap."""
    return statistics.mean(min(row[t] or cap, cap) for row in per_order)


def oracle_ratio(curves: Sequence[Sequence[float]], target: float, grace: int) -> float:
    """The most early stopping can save, one trial at a time: an oracle that stops after
    ``grace`` epochs every trial that will not reach ``target``. With p the share of curves
    reaching it and h their mean epochs to it, no early stopping needs (1/p - 1) * 27 + h
    epochs on average, the oracle (1/p - 1) * grace + h."""
    hits = [next(i for i, a in enumerate(c, 1) if a >= target) for c in curves if max(c) >= target]
    p, h = len(hits) / len(curves), statistics.mean(hits)
    return ((1 / p - 1) * EPOCHS + h) / ((1 / p - 1) * grace + h)


def halving_funnel(
    curves: Sequence[Sequence[float]], target: float, rungs: Sequence[int] = (1, 3, 9), rf: int = 3
) -> dict[str, Any]:
    """Successive halving of the whole survey at once: how many of the configurations that
    reach ``target`` survive each rung, and the epochs it trains per one of them that does."""
    import numpy as np

    c = np.array(curves)
    hit = c.max(1) >= target
    first = [int(np.argmax(row >= target)) + 1 for row in c[hit]]
    alive = np.ones(len(c), bool)
    kept, epochs, last = [], 0, 0
    for rung in rungs:
        epochs += int(alive.sum()) * (rung - last)
        at = c[:, rung - 1]
        alive &= at >= np.percentile(at[alive], 100 * (1 - 1 / rf))
        kept.append([rung, int((hit & alive).sum()), int(alive.sum())])
        last = rung
    epochs += int(alive.sum()) * (EPOCHS - last)
    top_third_at_1 = int((hit & (c[:, 0] >= np.percentile(c[:, 0], 100 * (1 - 1 / rf)))).sum())
    return {"reaching": int(hit.sum()), "in top 1/rf at epoch 1": top_third_at_1,
            "first reach after epoch 15": sum(f > 15 for f in first),
            "first reach after epoch 20": sum(f > 20 for f in first),
            "first reach by epoch 9": sum(f <= 9 for f in first),
            "kept after rung [rung, reaching, all]": kept, "epochs": epochs,
            "epochs per reaching one": epochs / max(kept[-1][1], 1),
            "no early stopping, epochs per reaching one": EPOCHS * len(c) / int(hit.sum()),
            }  # fmt: skip


def seed_spread(
    base: list[list[int | None]], rule: list[list[int | None]], t: int, cap: int, seeds: int = 3
) -> tuple[float, float, float]:
    """What a benchmark of ``seeds`` seeds per method can measure: the ratio of summed epochs
    to target (no early stopping / rule), ``seeds`` replayed sweeps drawn independently for
    each side, 20,000 draws; returns its 5th percentile, median and 95th percentile."""
    import numpy as np

    rng = np.random.default_rng(11)
    a = np.array([min(r[t] or cap, cap) for r in base], dtype=float)
    b = np.array([min(r[t] or cap, cap) for r in rule], dtype=float)
    draws = 20_000
    ratios = (a[rng.integers(0, len(a), (draws, seeds))].sum(1)
              / b[rng.integers(0, len(b), (draws, seeds))].sum(1))  # fmt: skip
    low, mid, high = np.percentile(ratios, [5, 50, 95])
    return float(low), float(mid), float(high)


# -- the settings studied -------------------------------------------------------------------


def _make(kind: str, kw: dict[str, Any]) -> Any:
    if kind == "ray":
        from ray.tune.schedulers import ASHAScheduler

        return ASHAScheduler(metric="acc", mode="max", max_t=EPOCHS, **kw)
    import optuna

    cls = {"sha": optuna.pruners.SuccessiveHalvingPruner,
           "hyperband": optuna.pruners.HyperbandPruner,
           "median": optuna.pruners.MedianPruner}[kind]  # fmt: skip
    return cls(**kw)


def _sha(**kw: Any) -> Callable[[], Any]:
    return functools.partial(_make, "sha", kw)


def _hyperband(**kw: Any) -> Callable[[], Any]:
    return functools.partial(_make, "hyperband", kw)


def _median(**kw: Any) -> Callable[[], Any]:
    return functools.partial(_make, "median", kw)


def _ray_asha(**kw: Any) -> Callable[[], Any]:
    return functools.partial(_make, "ray", kw)


def rules() -> list[Rule]:
    """Every setting the study replays, in table order (nothing left out of the tables)."""
    out = [Rule("no early stopping", "none")]
    for grace in (1, 3):
        for rf in (2, 3, 4):
            out.append(
                Rule(
                    f"Optuna SHA grace {grace} rf {rf}",
                    "optuna",
                    _sha(min_resource=grace, reduction_factor=rf),
                )
            )
            out.append(
                Rule(
                    f"Ray ASHA grace {grace} rf {rf}",
                    "ray",
                    _ray_asha(grace_period=grace, reduction_factor=rf),
                )
            )
    out += [Rule(f"Optuna SHA grace 1 rf 3 min_early_stopping_rate {mesr}", "optuna",
                 _sha(min_resource=1, reduction_factor=3, min_early_stopping_rate=mesr))
            for mesr in (1, 2)]  # fmt: skip
    out += [Rule(f"Optuna SHA grace 1 rf 3 bootstrap_count {boot}", "optuna",
                 _sha(min_resource=1, reduction_factor=3, bootstrap_count=boot))
            for boot in (2, 4, 8)]  # fmt: skip
    out += [Rule(f"Optuna Hyperband min 1 max 27 rf {rf}", "optuna",
                 _hyperband(min_resource=1, max_resource=EPOCHS, reduction_factor=rf))
            for rf in (2, 3, 4)]  # fmt: skip
    out += [Rule(f"Ray ASHA grace 1 rf {rf} brackets {brackets}", "ray",
                 _ray_asha(grace_period=1, reduction_factor=rf, brackets=brackets))
            for rf, brackets in ((3, 2), (3, 3), (3, 4), (2, 3), (4, 3))]  # fmt: skip
    out += [Rule(f"Optuna SHA grace 1 rf {rf}, best so far", "optuna-best",
                 _sha(min_resource=1, reduction_factor=rf))
            for rf in (2, 3, 4)]  # fmt: skip
    out += [
        Rule("Optuna SuccessiveHalvingPruner() defaults", "optuna", _sha()),
        Rule("Optuna HyperbandPruner() defaults", "optuna", _hyperband()),
        Rule("Optuna MedianPruner() defaults", "optuna", _median()),
        # runyard's scheduler="asha" is "Optuna SHA grace 1 rf 4, best so far" above
        Rule("runyard default hyperband (Optuna defaults, best so far)", "optuna-best",
             _hyperband()),
        Rule("runyard default median (Optuna defaults, best so far)", "optuna-best", _median()),
    ]  # fmt: skip
    return out


# -- the report ---------------------------------------------------------------------------


def report(
    n_orders: int, workers: int, budget: int, cap: int, processes: int, extra: Sequence[float]
) -> dict[str, Any]:
    """Replay every rule on the saved survey; print the tables, return the JSON payload."""
    from _harness import print_table

    configs, curves = load_survey()
    named = top_targets(curves)
    for value in extra:
        named[f"{value:.4f}"] = value
    names, targets = list(named), list(named.values())
    rule_list = rules()
    results = run(curves, rule_list, targets, n_orders, workers, cap, processes=processes)
    base = results["no early stopping"]
    bests = [max(c) for c in curves]
    header = ["rule"] + [
        f"{n} ({t:.4f}, {sum(b >= t for b in bests)}/{len(bests)})"
        for n, t in zip(names, targets, strict=True)
    ]
    summary: dict[str, Any] = {}
    for label, limit in ((f"budget {budget} (a miss counts {budget})", budget),
                         (f"no budget (cap {cap})", cap)):  # fmt: skip
        rows = []
        for rule in rule_list:
            cells = []
            for i in range(len(targets)):
                mine = mean_epochs(results[rule.name], i, limit)
                ratio = mean_epochs(base, i, limit) / mine
                cells.append(f"{mine:.0f} ({ratio:.2f}x)")
                summary.setdefault(rule.name, {}).setdefault(label, {})[names[i]] = {
                    "mean_epochs": mine, "vs_no_es": ratio,
                    "missed": sum(r[i] is None or r[i] > limit for r in results[rule.name]),
                }  # fmt: skip
            rows.append([rule.name, *cells])
        print_table(
            f"Replay on {len(curves)} surveyed curves, {n_orders} orders, {workers} workers, "
            f"{label}: mean epochs to target (x fewer than no early stopping)",
            header,
            rows,
        )
    oracle = {n: {f"grace {g}": oracle_ratio(curves, t, g) for g in (1, 3)}
              for n, t in named.items()}  # fmt: skip
    print_table(
        "Ceiling: x fewer epochs than no early stopping for an oracle that stops, after the "
        "grace period, exactly the trials that will not reach the target (one worker)",
        ["grace", *names],
        [[g, *(f"{oracle[n][g]:.2f}x" for n in names)] for g in ("grace 1", "grace 3")],
    )
    funnel = halving_funnel(curves, named["top 10%"])
    print("\nSuccessive halving of the whole survey (rungs 1, 3, 9, factor 3), target top 10 %:")
    for key, value in funnel.items():
        print(f"  {key}: {value}")
    spread: dict[str, dict[int, tuple[float, float, float]]] = {}
    t_index = len(targets) - 1  # the benchmark's own target (the last of ``extra``)
    for name in ("Optuna SHA grace 1 rf 3", "Ray ASHA grace 1 rf 3"):
        spread[name] = {
            k: seed_spread(base, results[name], t_index, budget, k) for k in (3, 10, 30)
        }
    print_table(
        f"What N seeds per method can show: the benchmark's ratio (summed epochs to "
        f"{targets[t_index]:.4f}, budget {budget}) over N replayed sweeps per side",
        ["rule", "seeds", "5th percentile", "median", "95th percentile"],
        [[n, k, *(f"{v:.2f}x" for v in q)] for n, per in spread.items() for k, q in per.items()],
    )
    return {"survey_n": len(curves), "orders": n_orders, "workers": workers, "budget": budget,
            "cap": cap, "targets": named, "summary": summary, "oracle": oracle, "funnel": funnel,
            "three_seed_spread": spread}  # fmt: skip


def stability(
    n_orders: int, workers: int, cap: int, names: Sequence[str], processes: int
) -> dict[str, Any]:
    """The ratios of a few rules on parts of the survey: the first 60 curves (the first
    survey's), the first and second half; targets are each part's own top 50 / 25 / 10 / 5 %."""
    from _harness import print_table

    _, curves = load_survey()
    half = len(curves) // 2
    parts = {"first 60": curves[:60], "first half": curves[:half], "second half": curves[half:],
             "all": curves}  # fmt: skip
    chosen = [r for r in rules() if r.name in ("no early stopping", *names)]
    out: dict[str, Any] = {}
    rows = []
    for part, sub in parts.items():
        named = top_targets(sub)
        res = run(sub, chosen, list(named.values()), n_orders, workers, cap, processes=processes)
        for rule in chosen[1:]:
            ratios = [
                mean_epochs(res["no early stopping"], i, cap) / mean_epochs(res[rule.name], i, cap)
                for i in range(len(named))
            ]
            out.setdefault(part, {})[rule.name] = dict(zip(named, ratios, strict=True))
            rows.append([part, rule.name, *(f"{r:.2f}x" for r in ratios)])
        out.setdefault(part, {})["targets"] = named
    print_table(
        f"Stability: x fewer epochs than no early stopping (no budget, cap {cap}) on parts of "
        f"the survey, each part's own targets, {n_orders} orders",
        ["curves", "rule", *(f"top {round(f * 100)}%" for f in TOP_FRACTIONS)],
        rows,
    )
    return out
