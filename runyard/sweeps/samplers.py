"""Sampler names → Optuna samplers. runyard never samples on its own.

Example:
    >>> type(make_sampler("random", seed=0)).__name__
    'RandomSampler'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from runyard.errors import InvalidArgument, MissingDependency
from runyard.sweeps.space import Choice, ParamType

if TYPE_CHECKING:
    from optuna.samplers import BaseSampler

__all__ = ["SAMPLER_NAMES", "grid_size", "make_sampler"]

SAMPLER_NAMES = ("tpe", "random", "grid", "cmaes", "qmc", "gp")


def _grid(space: Mapping[str, ParamType]) -> dict[str, Sequence[Any]]:
    grid: dict[str, Sequence[Any]] = {}
    for name, param in space.items():
        if not isinstance(param, Choice):
            raise InvalidArgument(
                f"sampler='grid' needs every parameter to be a ry.choice; {name!r} is {param!r}"
            )
        grid[name] = list(param.choices)
    if not grid:
        raise InvalidArgument("sampler='grid' needs a search space of ry.choice parameters")
    return grid


def grid_size(space: Mapping[str, ParamType]) -> int:
    """The number of points of a grid over a space of choices."""
    size = 1
    for values in _grid(space).values():
        size *= len(values)
    return size


def _ask_tell_grid(grid: dict[str, Sequence[Any]], seed: int | None) -> BaseSampler:
    """Optuna's grid sampler without its ``study.stop()`` (only legal inside ``optimize``).

    The driver stops by itself: ``trials`` is capped at the grid's size.
    """
    from optuna.samplers import GridSampler

    class AskTellGridSampler(GridSampler):
        def after_trial(self, *args: Any, **kwargs: Any) -> None:
            return None

    sampler: BaseSampler = AskTellGridSampler(grid, seed=seed)
    return sampler


def make_sampler(
    spec: str | BaseSampler | None,
    seed: int | None = None,
    space: Mapping[str, ParamType] | None = None,
) -> BaseSampler:
    """An Optuna sampler from a name (or an Optuna sampler, returned as is).

    Args:
        spec: ``tpe`` (default), ``random``, ``grid`` (every parameter a choice), ``cmaes``,
            ``qmc``, ``gp``, or an ``optuna.samplers.BaseSampler``.
        seed: seeds the sampler's random numbers.
        space: the search space (``grid`` builds its grid from it).

    Raises:
        InvalidArgument: an unknown name, or a grid over a non-choice parameter.
        MissingDependency: a sampler whose optional package is not installed.
    """
    import optuna.samplers as s

    if isinstance(spec, s.BaseSampler):
        return spec
    name = (spec or "tpe").lower() if isinstance(spec, str) or spec is None else None
    if name == "tpe":
        return s.TPESampler(seed=seed)
    if name == "random":
        return s.RandomSampler(seed=seed)
    if name == "grid":
        return _ask_tell_grid(_grid(space or {}), seed)
    if name == "qmc":
        return s.QMCSampler(seed=seed)
    if name in ("cmaes", "gp"):
        needs = "cmaes" if name == "cmaes" else "torch"
        try:
            __import__(needs)
        except ImportError as e:
            raise MissingDependency(needs, "all") from e
        return s.CmaEsSampler(seed=seed) if name == "cmaes" else s.GPSampler(seed=seed)
    raise InvalidArgument(
        f"unknown sampler {spec!r}; use one of {', '.join(SAMPLER_NAMES)} "
        "or pass an optuna.samplers.BaseSampler"
    )
