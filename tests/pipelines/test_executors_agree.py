"""The same pipeline gives the same results, and shares its cache, on every executor."""

from typing import Any

import numpy as np

import runyard.pipelines as ry
from runyard.executors import ProcessExecutor
from runyard.pipelines import CacheUse


@ry.step(cpus=1)
def features(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 3))


@ry.step
def fit(x: np.ndarray, alpha: float) -> float:
    return float(np.linalg.norm(x) * alpha)


@ry.pipeline
def model(n: int = 50, seeds: list[int] = [0, 1, 2], alpha: float = 0.5):  # noqa: B006
    return [fit.map(x=features.map(n=n, seed=seeds), alpha=alpha)]


def test_inline_and_process_agree_and_share_the_cache(where: dict[str, Any]) -> None:
    inline = model.run(executor="inline", **where)
    with ProcessExecutor(max_workers=2) as pool:
        pooled = model.run(executor=pool, cache=False, **where)
        cached = model.run(executor=pool, **where)
    assert pooled.value == inline.value == cached.value
    assert {s.cache for s in cached.steps} == {CacheUse.HIT}
