"""The search filter AST: small frozen values, independent of any database.

Example:
    >>> from runyard.tracking.filter import parse_filter
    >>> parse_filter("metrics.acc > 0.9").ident.key
    'acc'
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "ATTRIBUTES",
    "NUMERIC_ATTRIBUTES",
    "BoolOp",
    "Comparison",
    "Expr",
    "Identifier",
    "Kind",
    "Literal",
    "OrderKey",
]


class Kind(enum.StrEnum):
    """What an identifier names."""

    METRIC = "metric"
    PARAM = "param"
    TAG = "tag"
    ATTRIBUTE = "attribute"


ATTRIBUTES = frozenset(
    {"status", "name", "start_time", "end_time", "run_id", "experiment_id", "parent_run_id"}
)
"""Run attributes a filter or order_by may name (``run_name`` is an alias of ``name``)."""

NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time"})
"""Attributes that compare as numbers (milliseconds since the epoch)."""

Literal = str | float | tuple[str, ...] | tuple[float, ...]
"""A comparison's right-hand side: a string, a number, or a list for ``in``."""


@dataclass(frozen=True, slots=True)
class Identifier:
    """A metric, param, tag or attribute reference.

    Attributes:
        kind: what it names.
        key: the metric/param/tag key, or the attribute name (``name`` for ``run_name``).
        aggregate: for metrics, which summary field: ``latest`` (default), ``min`` or ``max``.
        position: offset of the identifier in the text it was parsed from.
    """

    kind: Kind
    key: str
    aggregate: str = "latest"
    position: int = 0

    @property
    def is_numeric(self) -> bool:
        """True when values of this identifier compare as numbers."""
        return self.kind is Kind.METRIC or (
            self.kind is Kind.ATTRIBUTE and self.key in NUMERIC_ATTRIBUTES
        )


@dataclass(frozen=True, slots=True)
class Comparison:
    """``<ident> <op> <value>``; ``op`` is one of ``= != < <= > >= like ilike in not in``."""

    ident: Identifier
    op: str
    value: Literal
    position: int = 0


@dataclass(frozen=True, slots=True)
class BoolOp:
    """``and`` / ``or`` over two or more operands."""

    op: str
    operands: tuple[Expr, ...]


Expr = Comparison | BoolOp
"""A parsed filter."""


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One ``order_by`` clause."""

    ident: Identifier
    ascending: bool = True
