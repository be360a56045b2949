"""Search spaces: the parameter types a sweep samples, each mapped to an Optuna distribution.

A space is a mapping of parameter name to one of :func:`uniform`, :func:`loguniform`,
:func:`quniform`, :func:`randint`, :func:`qint` or :func:`choice`. Conditional parameters are
asked inside the objective with ``trial.suggest_*`` (define-by-run) instead.

Example:
    >>> import runyard.sweeps as rs
    >>> space = {"lr": rs.loguniform(1e-4, 1.0), "hidden": rs.choice([64, 128, 256])}
    >>> sorted(to_optuna(space))
    ['hidden', 'lr']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runyard.errors import InvalidArgument

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

__all__ = [
    "Choice",
    "Float",
    "Int",
    "ParamType",
    "Space",
    "choice",
    "loguniform",
    "qint",
    "quniform",
    "randint",
    "space_from_dict",
    "to_optuna",
    "uniform",
]

ChoiceValue = None | bool | int | float | str


@dataclass(frozen=True, slots=True)
class Float:
    """A float in ``[low, high]``, on a log scale with ``log``, on a grid of ``step``."""

    low: float
    high: float
    log: bool = False
    step: float | None = None

    def to_optuna(self) -> BaseDistribution:
        """The equivalent ``optuna.distributions.FloatDistribution``."""
        from optuna.distributions import FloatDistribution

        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)


@dataclass(frozen=True, slots=True)
class Int:
    """An integer in ``[low, high]`` (both included), on a log scale or a grid of ``step``."""

    low: int
    high: int
    log: bool = False
    step: int = 1

    def to_optuna(self) -> BaseDistribution:
        """The equivalent ``optuna.distributions.IntDistribution``."""
        from optuna.distributions import IntDistribution

        return IntDistribution(self.low, self.high, log=self.log, step=self.step)


@dataclass(frozen=True, slots=True)
class Choice:
    """One of a fixed list of values (None, bool, int, float or str)."""

    choices: tuple[ChoiceValue, ...]

    def to_optuna(self) -> BaseDistribution:
        """The equivalent ``optuna.distributions.CategoricalDistribution``."""
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution(self.choices)


ParamType = Float | Int | Choice
Space = Mapping[str, ParamType]


def _finite(name: str, *values: float) -> None:
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise InvalidArgument(f"{name}: bounds must be finite numbers, got {v!r}")


def _ordered(name: str, low: float, high: float) -> None:
    _finite(name, low, high)
    if low > high:
        raise InvalidArgument(f"{name}: low {low!r} is greater than high {high!r}")


def uniform(low: float, high: float) -> Float:
    """A float drawn uniformly from ``[low, high]``.

    Example:
        >>> uniform(0.0, 0.5)
        Float(low=0.0, high=0.5, log=False, step=None)
    """
    _ordered("uniform", low, high)
    return Float(float(low), float(high))


def loguniform(low: float, high: float) -> Float:
    """A float drawn uniformly in log space from ``[low, high]`` (``low > 0``).

    Example:
        >>> loguniform(1e-4, 1.0).log
        True
    """
    _ordered("loguniform", low, high)
    if low <= 0:
        raise InvalidArgument(f"loguniform: low must be positive, got {low!r}")
    return Float(float(low), float(high), log=True)


def quniform(low: float, high: float, q: float) -> Float:
    """A float from ``low, low + q, ...`` up to ``high``.

    Example:
        >>> quniform(0.0, 1.0, 0.25).step
        0.25
    """
    _ordered("quniform", low, high)
    _finite("quniform", q)
    if q <= 0:
        raise InvalidArgument(f"quniform: q must be positive, got {q!r}")
    return Float(float(low), float(high), step=float(q))


def _int_bounds(name: str, low: int, high: int) -> None:
    for v in (low, high):
        if isinstance(v, bool) or not isinstance(v, int):
            raise InvalidArgument(f"{name}: bounds must be integers, got {v!r}")
    _ordered(name, low, high)


def randint(low: int, high: int, log: bool = False) -> Int:
    """An integer from ``low`` to ``high``, both included (log-scaled with ``log``).

    Example:
        >>> randint(1, 8)
        Int(low=1, high=8, log=False, step=1)
    """
    _int_bounds("randint", low, high)
    if log and low < 1:
        raise InvalidArgument(f"randint(log=True): low must be at least 1, got {low}")
    return Int(low, high, log=log)


def qint(low: int, high: int, q: int) -> Int:
    """An integer from ``low, low + q, ...`` up to ``high``.

    Example:
        >>> qint(16, 256, 16).step
        16
    """
    _int_bounds("qint", low, high)
    if isinstance(q, bool) or not isinstance(q, int) or q < 1:
        raise InvalidArgument(f"qint: q must be a positive integer, got {q!r}")
    return Int(low, high, step=q)


def choice(options: Sequence[ChoiceValue]) -> Choice:
    """One of ``options`` (None, bool, int, float or str values).

    Example:
        >>> choice([64, 128, 256]).choices
        (64, 128, 256)
    """
    if isinstance(options, str | bytes) or not isinstance(options, Sequence):
        raise InvalidArgument(f"choice: options must be a list, got {options!r}")
    values = tuple(options)
    if not values:
        raise InvalidArgument("choice: options must not be empty")
    for v in values:
        if v is not None and not isinstance(v, bool | int | float | str):
            raise InvalidArgument(
                f"choice: options must be None, bool, int, float or str, got {v!r}"
            )
    return Choice(values)


def to_optuna(space: Space | None) -> dict[str, BaseDistribution]:
    """Map a search space to Optuna distributions (a clear error for anything else).

    Raises:
        InvalidArgument: a value is not a runyard parameter type.
    """
    out: dict[str, BaseDistribution] = {}
    for name, param in (space or {}).items():
        if not isinstance(name, str) or not name:
            raise InvalidArgument(f"search space keys must be non-empty strings, got {name!r}")
        if not isinstance(param, Float | Int | Choice):
            raise InvalidArgument(
                f"search space entry {name!r} is {param!r}; use ry.uniform, ry.loguniform, "
                "ry.quniform, ry.randint, ry.qint or ry.choice"
            )
        out[name] = param.to_optuna()
    return out


_BUILDERS: dict[str, Any] = {
    "uniform": uniform,
    "loguniform": loguniform,
    "quniform": quniform,
    "randint": randint,
    "int": randint,
    "qint": qint,
}


def space_from_dict(data: Mapping[str, Any]) -> dict[str, ParamType]:
    """Build a space from plain data (what ``--space space.yaml`` holds).

    Each entry is a list (a :func:`choice`) or a mapping with ``type`` (``uniform``,
    ``loguniform``, ``quniform``, ``randint``/``int``, ``qint``, ``choice``) and its
    arguments (``low``, ``high``, ``q``, ``log``, ``values``).

    Raises:
        InvalidArgument: an entry names an unknown type or lacks an argument.

    Example:
        >>> space_from_dict({"lr": {"type": "loguniform", "low": 1e-4, "high": 1}})["lr"].log
        True
    """
    if not isinstance(data, Mapping):
        raise InvalidArgument(f"a search space is a mapping of name to type, got {data!r}")
    out: dict[str, ParamType] = {}
    for name, entry in data.items():
        if isinstance(entry, list):
            out[str(name)] = choice(entry)
            continue
        if not isinstance(entry, Mapping) or "type" not in entry:
            raise InvalidArgument(
                f"space entry {name!r}: expected a list of choices or a mapping with 'type', "
                f"got {entry!r}"
            )
        kind = str(entry["type"])
        args = {k: v for k, v in entry.items() if k != "type"}
        if kind == "choice":
            out[str(name)] = choice(args.get("values", args.get("choices", [])))
            continue
        builder = _BUILDERS.get(kind)
        if builder is None:
            known = ", ".join([*_BUILDERS, "choice"])
            raise InvalidArgument(
                f"space entry {name!r}: unknown type {kind!r}; use one of {known}"
            )
        try:
            out[str(name)] = builder(**args)
        except TypeError as e:
            raise InvalidArgument(f"space entry {name!r} ({kind}): {e}") from e
    return out
