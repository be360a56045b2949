"""The original, promotion-based ASHA (Li et al., 2020, algorithm 2) replayed on the survey.

Optuna's pruners and Ray Tune's ``ASHAScheduler`` decide at once, when a trial reports at a
rung, whether it goes on; a trial stopped early stays stopped. The paper's ASHA instead pauses
every trial at each rung and, whenever a worker frees up, resumes the best paused trial of the
highest rung that is in the top 1/eta of that rung and not yet promoted, or else starts a new
configuration. A paused trial that looked mediocre among few can still be promoted later,
once the rung holds more trials. It needs objectives that can be paused and resumed
(checkpoints), which runyard's ``ry.sweep`` does not do with Optuna's pruners; this replay
asks whether it would reach the issue's 3x before anyone builds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import _sweeps_replay as replay_mod
from _harness import print_table

SETTINGS = ((3, (1, 3, 9, 27)), (4, (1, 4, 16, 27)), (2, (1, 2, 4, 8, 16, 27)))
WORKERS = 2


def replay(
    curves: Sequence[Sequence[float]],
    order: Sequence[int],
    eta: int,
    rungs: Sequence[int],
    budget: int,
    stop_at: float,
) -> list[float]:
    """The accuracies of the epochs a promotion-based ASHA sweep trains, in time order, until
    one reaches ``stop_at`` or ``budget`` epochs are spent (same accounting as
    ``_sweeps_replay.replay``: a resumed trial trains only the epochs it has not trained)."""
    at_rung: list[dict[int, float]] = [{} for _ in rungs]
    promoted: list[set[int]] = [set() for _ in rungs]
    started = 0

    def next_job() -> list[int]:
        nonlocal started
        for k in range(len(rungs) - 2, -1, -1):
            values = at_rung[k]
            best = sorted(values, key=lambda c: -values[c])[: len(values) // eta]
            waiting = [c for c in best if c not in promoted[k]]
            if waiting:
                promoted[k].add(waiting[0])
                return [waiting[0], rungs[k], rungs[k + 1], k + 1]
        started += 1
        return [started - 1, 0, rungs[0], 0]

    jobs: list[list[int] | None] = [None] * WORKERS
    events: list[float] = []
    while True:
        for w in range(WORKERS):
            job = jobs[w] or next_job()
            trial, done, until, rung = job
            acc = curves[order[trial % len(order)]][done]
            events.append(acc)
            if acc >= stop_at or len(events) >= budget:
                return events
            job[1] = done + 1
            if done + 1 == until:
                at_rung[rung][trial] = acc
            jobs[w] = None if done + 1 == until else job


def study(n_orders: int, budget: int) -> dict[str, Any]:
    """Promotion-based ASHA against no early stopping on the saved survey, top-X targets."""
    _, curves = replay_mod.load_survey()
    named = replay_mod.top_targets(curves)
    targets = list(named.values())
    cap = replay_mod.EPOCHS * 200
    orders = replay_mod.draw_orders(len(curves), n_orders, cap)  # those of replay_mod.run
    no_es = replay_mod.run(curves, replay_mod.rules()[:1], targets, n_orders, WORKERS, cap)
    base = no_es["no early stopping"]
    out: dict[str, Any] = {"orders": n_orders, "budget": budget, "targets": named}
    rows = []
    for eta, rungs in SETTINGS:
        res = []
        for order in orders:
            events = replay(curves, order, eta, rungs, cap, max(targets))
            res.append([replay_mod.epochs_to(events, t) for t in targets])
        name = f"promotion ASHA eta {eta}, rungs {'/'.join(map(str, rungs))}"
        for label, limit in ((f"budget {budget}", budget), ("no budget", cap)):
            ratios = [replay_mod.mean_epochs(base, i, limit) / replay_mod.mean_epochs(res, i, limit)
                      for i in range(len(targets))]  # fmt: skip
            out.setdefault(name, {})[label] = dict(zip(named, ratios, strict=True))
            rows.append([name, label, *(f"{r:.2f}x" for r in ratios)])
    print_table(
        f"Promotion-based ASHA replayed on {len(curves)} surveyed curves, {n_orders} orders, "
        f"{WORKERS} workers: x fewer epochs to target than no early stopping",
        ["rule", "budget", *(f"{k} ({v:.4f})" for k, v in named.items())],
        rows,
    )
    return out
