"""How much could successive halving save here, and where does ASHA lose it?

The replays (``_sweeps_replay.py``) find ASHA 1.5x-2.2x faster to the target than no early
stopping, against an oracle ceiling of 7x-15x. This study splits that gap in two:

* **Rank-based rules with hindsight.** Every configuration of the survey judged at once, each
  rung cutting at the survey's own quantile: what successive halving (any grace, any reduction
  factor from 2 to 27) and the best one- and two-rung rule (any epochs, any kept shares) would
  save if the sweep knew, from its first trial, how the whole space ranks. Expected epochs to
  the target for a stream of configurations, one at a time: a configuration that reaches the
  target and survives every rung before it gets there ends the stream, so with K of the N
  survivors reaching it, the stream spends (N - K) / K times the mean epochs of the others, plus
  the mean epochs those K need. No early stopping gives (1/p - 1) * 27 + h, the oracle's baseline.
* **The same settings online.** Optuna's ``SuccessiveHalvingPruner`` and Ray Tune's
  ``ASHAScheduler`` replayed (2 workers, the benchmark's budget, the replay's configuration
  orders) at the large reduction factors the hindsight analysis favours, which the replay's table
  does not hold; and a single cut at epoch 1, once at the survey's own quantile as a fixed
  threshold (hindsight) and once at the same share of the trials seen so far (learnt online):
  what a sweep pays for learning its cut-offs from the trials it has seen.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import Any

import _sweeps_replay as replay_mod
from _harness import print_table

EPOCHS = replay_mod.EPOCHS
WORKERS = 2
SHARES = (1 / 27, 1 / 18, 1 / 12, 1 / 9, 1 / 8, 1 / 6, 1 / 5, 1 / 4, 1 / 3, 1 / 2, 2 / 3)
ONLINE = ((1, 5), (1, 6), (1, 9), (1, 27), (2, 3), (2, 4), (2, 6), (2, 9), (2, 12), (3, 8), (3, 9))


def _rungs(grace: int, rf: int) -> list[tuple[int, float]]:
    """Successive halving's rungs below 27 epochs, each keeping 1/rf of its survivors."""
    out, rung = [], grace
    while rung < EPOCHS:
        out.append((rung, 1 / rf))
        rung *= rf
    return out


def expected_epochs(c: Any, target: int, rungs: Sequence[tuple[int, float]]) -> float:
    """Expected epochs to ``target`` (validation digits) for a stream of the survey's
    configurations, each rung (epoch, share) keeping that share of the rung's survivors by
    their accuracy at that epoch, cut at the survey's own quantile (hindsight)."""
    import numpy as np

    n = len(c)
    reach = (c >= target).any(1)
    first = np.where(reach, (c >= target).argmax(1) + 1, EPOCHS + 1)
    alive = np.ones(n, bool)
    cost = np.full(n, float(EPOCHS))
    for epoch, share in rungs:
        at = c[:, epoch - 1]
        kept = max(1, round(share * int(alive.sum())))
        cutoff = np.sort(at[alive])[::-1][kept - 1]
        stopped = alive & (first > epoch) & (at < cutoff)  # reached before the rung: found
        cost[stopped] = epoch
        alive &= ~stopped
    found = reach & alive
    k = int(found.sum())
    if k == 0:
        return float("inf")
    return float(cost[~found].mean() * (n - k) / k + first[found].mean())


def hindsight(curves: Sequence[Sequence[float]], named: dict[str, float]) -> dict[str, Any]:
    """x fewer epochs than no early stopping for rank rules that know the survey's quantiles."""
    import numpy as np

    c = np.rint(np.array(curves) * replay_mod.VALIDATION).astype(int)
    out: dict[str, Any] = {}
    rows = []
    for name, acc in named.items():
        target = round(acc * replay_mod.VALIDATION)
        base = expected_epochs(c, target, [])

        def ratio(rungs: Sequence[tuple[int, float]], base: float = base, t: int = target) -> float:
            return base / expected_epochs(c, t, rungs)

        sha = {
            (g, rf): ratio(_rungs(g, rf)) for g in (1, 2, 3) for rf in (2, 3, 4, 5, 6, 8, 9, 12, 27)
        }
        one = max((ratio([(e, q)]), e, q) for e in range(1, 13) for q in SHARES)
        two = max(
            (ratio([(e1, q1), (e2, q2)]), e1, q1, e2, q2)
            for e1, e2 in itertools.combinations(range(1, 16), 2)
            if e1 <= 4
            for q1 in SHARES
            for q2 in SHARES
        )
        best_sha = max(sha, key=lambda k: sha[k])
        out[name] = {
            "target_digits": target, "no_es_expected_epochs": base,
            "sha": {f"grace {g} rf {rf}": r for (g, rf), r in sha.items()},
            "best_one_rung": {"ratio": one[0], "epoch": one[1], "share": one[2]},
            "best_two_rungs": {"ratio": two[0], "rungs": [[two[1], two[2]], [two[3], two[4]]]},
            "oracle_grace_1": replay_mod.oracle_ratio(curves, acc, 1),
        }  # fmt: skip
        rows.append([
            f"{name} ({target}/497)", f"{sha[(1, 3)]:.2f}x", f"{sha[(1, 4)]:.2f}x",
            f"{sha[best_sha]:.2f}x (grace {best_sha[0]} rf {best_sha[1]})",
            f"{one[0]:.2f}x (epoch {one[1]}, keep {one[2]:.3f})",
            f"{two[0]:.2f}x (epoch {two[1]} keep {two[2]:.3f}, epoch {two[3]} keep {two[4]:.3f})",
            f"{out[name]['oracle_grace_1']:.2f}x",
        ])  # fmt: skip
    print_table(
        f"With hindsight: rank rules cutting at the quantiles of all {len(curves)} surveyed "
        "curves, one configuration at a time (x fewer expected epochs than no early stopping)",
        ["target", "SHA g1 rf3", "SHA g1 rf4", "best SHA", "best one rung", "best two rungs",
         "oracle g1"],
        rows,
    )  # fmt: skip
    return out


class _Threshold(replay_mod._NoStop):
    """Stop a trial after ``epoch`` epochs if its accuracy is below a fixed ``cutoff``."""

    def __init__(self, epoch: int, cutoff: float) -> None:
        self.epoch, self.cutoff = epoch, cutoff

    def report(self, handle: Any, epoch: int, acc: float) -> bool:
        return epoch == self.epoch and acc < self.cutoff


class _RankCut(replay_mod._NoStop):
    """Stop a trial after ``epoch`` epochs unless its accuracy is in the top ``share`` of the
    accuracies every trial so far had at that epoch (itself excluded): the same cut as
    ``_Threshold``, learnt online as ASHA learns its cut-offs."""

    def __init__(self, epoch: int, share: float) -> None:
        self.epoch, self.share = epoch, share
        self.seen: list[float] = []

    def report(self, handle: Any, epoch: int, acc: float) -> bool:
        if epoch != self.epoch:
            return False
        ranked = sorted(self.seen, reverse=True)
        stop = bool(ranked) and acc < ranked[max(1, int(len(ranked) * self.share)) - 1]
        self.seen.append(acc)
        return stop


def online(
    curves: Sequence[Sequence[float]], named: dict[str, float], n_orders: int, budget: int
) -> dict[str, Any]:
    """Replay large reduction factors and the hindsight threshold on the replay's orders."""
    import numpy as np

    first = np.sort(np.array(curves)[:, 0])[::-1]
    rules = [replay_mod.rules()[0]]
    for g, rf in ONLINE:
        sha = replay_mod._sha(min_resource=g, reduction_factor=rf)
        ray = replay_mod._ray_asha(grace_period=g, reduction_factor=rf)
        rules.append(replay_mod.Rule(f"Optuna SHA grace {g} rf {rf}", "optuna", sha))
        rules.append(replay_mod.Rule(f"Ray ASHA grace {g} rf {rf}", "ray", ray))
    for rf in (3, 6, 27):
        cutoff = float(first[max(1, round(len(first) / rf)) - 1])
        rules.append(replay_mod.Rule(
            f"fixed cut at epoch 1: top 1/{rf} of the survey (>= {cutoff:.4f})", "custom",
            functools.partial(_Threshold, 1, cutoff),
        ))  # fmt: skip
        rules.append(replay_mod.Rule(
            f"the same cut learnt online: top 1/{rf} of the trials so far", "custom",
            functools.partial(_RankCut, 1, 1 / rf),
        ))  # fmt: skip
    targets = list(named.values())
    cap = EPOCHS * 200
    results = replay_mod.run(curves, rules, targets, n_orders, WORKERS, cap)
    base = results["no early stopping"]
    out: dict[str, Any] = {}
    rows = []
    for rule in rules[1:]:
        cells = []
        for i, name in enumerate(named):
            with_budget = replay_mod.mean_epochs(base, i, budget) / replay_mod.mean_epochs(
                results[rule.name], i, budget
            )
            without = replay_mod.mean_epochs(base, i, cap) / replay_mod.mean_epochs(
                results[rule.name], i, cap
            )
            out.setdefault(rule.name, {})[name] = {"budget": with_budget, "no_budget": without}
            cells.append(f"{with_budget:.2f}x / {without:.2f}x")
        rows.append([rule.name, *cells])
    print_table(
        f"Online: replayed on {len(curves)} curves, {n_orders} orders, {WORKERS} workers "
        f"(x fewer epochs than no early stopping, budget {budget} / no budget)",
        ["rule", *(f"{k} ({v:.4f})" for k, v in named.items())],
        rows,
    )
    return out


def study(n_orders: int, budget: int) -> dict[str, Any]:
    """Both parts on the saved survey, at its top 50 / 25 / 10 / 5 % targets."""
    _, curves = replay_mod.load_survey()
    named = replay_mod.top_targets(curves)
    return {
        "orders": n_orders, "budget": budget, "workers": WORKERS, "targets": named,
        "hindsight": hindsight(curves, named), "online": online(curves, named, n_orders, budget),
    }  # fmt: skip
