"""Best accuracy per budget, runyard's ASHA against Ray Tune's, on replayed sweeps.

The issue's second early-stopping goal: runyard + ASHA "is never worse than Ray Tune's ASHA on
the same budget". Real runs can afford a few dozen seeds, which cannot tell apart differences
of a fraction of a validation digit. The replay (``_sweeps_replay.py``) can afford hundreds of
sweeps, and it gives both rules the same configuration orders, so each order is a paired
comparison: the same configurations, in the same order, stopped by one rule or the other.
Reported: the best validation accuracy seen after 25 / 50 / 100 % of the epoch budget, the mean
paired difference (in validation digits) with a 95 % interval, and how often each rule is ahead.
"""

from __future__ import annotations

import statistics
from typing import Any

import _sweeps_replay as replay_mod
from _harness import print_table

PAIRS = (
    ("Optuna SHA grace 1 rf 2", "Ray ASHA grace 1 rf 2"),
    ("Optuna SHA grace 1 rf 3", "Ray ASHA grace 1 rf 3"),
    ("Optuna SHA grace 1 rf 4", "Ray ASHA grace 1 rf 4"),
    ("Optuna SuccessiveHalvingPruner() defaults", "Ray ASHA grace 1 rf 4"),
    ("Optuna SHA grace 1 rf 2, best so far", "Ray ASHA grace 1 rf 2"),
    ("Optuna SHA grace 1 rf 3, best so far", "Ray ASHA grace 1 rf 3"),
    ("Optuna SHA grace 1 rf 4, best so far", "Ray ASHA grace 1 rf 4"),
)
SHARES = (0.25, 0.5, 1.0)
WORKERS = 2
NEVER = 2.0  # an accuracy no trial reaches: every replay runs to the budget


def _bests(rule: replay_mod.Rule, curves: list[list[float]], orders: list[list[int]],
           budget: int) -> list[list[float]]:  # fmt: skip
    out = []
    for seed, order in enumerate(orders):
        events = replay_mod.replay(curves, order, rule, seed, WORKERS, budget, NEVER)
        out.append([max(events[: round(budget * share)]) for share in SHARES])
    return out


def study(n_orders: int, budget: int) -> dict[str, Any]:
    """Replay each rule of ``PAIRS`` to the budget on the same orders; print and return."""
    _, curves = replay_mod.load_survey()
    orders = replay_mod.draw_orders(len(curves), n_orders, budget)  # as long as the budget
    by_name = {r.name: r for r in replay_mod.rules()}
    names = sorted({n for pair in PAIRS for n in pair} | {"no early stopping"})
    bests = {n: _bests(by_name[n], curves, orders, budget) for n in names}
    digits = replay_mod.VALIDATION
    out: dict[str, Any] = {"orders": n_orders, "budget": budget, "shares": SHARES, "pairs": {}}
    out["mean_best"] = {n: [statistics.mean(b[i] for b in bests[n]) for i in range(len(SHARES))]
                        for n in names}  # fmt: skip
    rows = []
    for mine, theirs in PAIRS:
        cells = []
        for i in range(len(SHARES)):
            diff = [(a[i] - b[i]) * digits for a, b in zip(bests[mine], bests[theirs], strict=True)]
            mean = statistics.mean(diff)
            half = 1.96 * statistics.stdev(diff) / len(diff) ** 0.5
            ahead, behind = sum(d > 1e-6 for d in diff), sum(d < -1e-6 for d in diff)
            out["pairs"].setdefault(f"{mine} vs {theirs}", []).append(
                {"share": SHARES[i], "mean_digits": mean, "ci95": [mean - half, mean + half],
                 "ahead": ahead, "equal": len(diff) - ahead - behind, "behind": behind}
            )  # fmt: skip
            cells.append(f"{mean:+.2f} ({mean - half:+.2f}..{mean + half:+.2f}), "
                         f"{ahead}/{len(diff) - ahead - behind}/{behind}")  # fmt: skip
        rows.append([f"{mine} vs {theirs}", *cells])
    print_table(
        f"Best accuracy after 25 / 50 / 100 % of a {budget}-epoch budget, {n_orders} paired "
        "replayed sweeps, 2 workers: mean difference in validation digits (95 % interval), "
        "sweeps ahead / equal / behind",
        ["pair", *(f"{round(s * 100)} % of the budget" for s in SHARES)],
        rows,
    )
    print_table(
        "Mean best accuracy",
        ["rule", *(f"{round(s * 100)} %" for s in SHARES)],
        [[n, *(f"{v:.4f}" for v in out["mean_best"][n])] for n in names],
    )
    return out
