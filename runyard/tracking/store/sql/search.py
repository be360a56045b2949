"""Compile the filter AST to SQL and run paged run searches.

When the first order_by key is a metric's ``latest`` value, the search runs in two phases so
that the database walks the ``(experiment_id, key, latest)`` summary index instead of
sorting every run: phase ``A`` returns runs that have a (non-NaN) value for that metric in
index order, phase ``B`` the remaining runs (missing or NaN sort last). The page token
records the phase and the offset within it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from runyard.entities import LifecycleStage
from runyard.tracking.filter import (
    BoolOp,
    Comparison,
    Expr,
    Identifier,
    Kind,
    OrderKey,
)
from runyard.tracking.store.sql.schema import metric_summaries, params, runs, tags

__all__ = ["SearchQuery", "search_run_ids"]

_ATTRIBUTE_COLUMNS = {
    "status": runs.c.status,
    "name": runs.c.name,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
    "run_id": runs.c.run_id,
    "experiment_id": sa.cast(runs.c.experiment_id, sa.String),
    "parent_run_id": runs.c.parent_run_id,
}
_NULLABLE_ATTRIBUTES = frozenset({"end_time", "parent_run_id"})


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed search: where to look, what to match, how to order."""

    experiment_ids: tuple[int, ...]
    deleted_experiment_ids: tuple[int, ...]
    expr: Expr | None
    order: tuple[OrderKey, ...]
    view: LifecycleStage | None
    dialect: str = "sqlite"


def _compare(column: Any, op: str, value: Any) -> Any:
    match op:
        case "=":
            return column == value
        case "!=":
            return column != value
        case "<":
            return column < value
        case "<=":
            return column <= value
        case ">":
            return column > value
        case ">=":
            return column >= value
        case "like":
            return column.like(value)
        case "not like":
            return column.not_like(value)
        case "ilike":
            return column.ilike(value)
        case "not ilike":
            return column.not_ilike(value)
        case "in":
            return column.in_(list(value))
        case "not in":
            return column.not_in(list(value))
    raise ValueError(op)  # unreachable: the parser only produces the operators above


def _kv_table(kind: Kind) -> sa.Table:
    return params if kind is Kind.PARAM else tags


def _compile(expr: Expr, indexed_metric: str | None, s0: Any) -> Any:
    if isinstance(expr, BoolOp):
        parts = [_compile(e, indexed_metric, s0) for e in expr.operands]
        return sa.and_(*parts) if expr.op == "and" else sa.or_(*parts)
    return _compile_comparison(expr, indexed_metric, s0)


def _compile_comparison(cmp: Comparison, indexed_metric: str | None, s0: Any) -> Any:
    ident = cmp.ident
    if ident.kind is Kind.ATTRIBUTE:
        return _compare(_ATTRIBUTE_COLUMNS[ident.key], cmp.op, cmp.value)
    if ident.kind is Kind.METRIC:
        if s0 is not None and ident.key == indexed_metric:
            return _compare(getattr(s0.c, ident.aggregate), cmp.op, cmp.value)
        s = metric_summaries.alias()
        return sa.exists().where(
            s.c.run_id == runs.c.run_id,
            s.c.key == ident.key,
            _compare(getattr(s.c, ident.aggregate), cmp.op, cmp.value),
        )
    t = _kv_table(ident.kind).alias()
    return sa.exists().where(
        t.c.run_id == runs.c.run_id, t.c.key == ident.key, _compare(t.c.value, cmp.op, cmp.value)
    )


def _sort_value(ident: Identifier) -> tuple[Any, bool]:
    """The SQL value to sort by and whether it may be NULL."""
    if ident.kind is Kind.ATTRIBUTE:
        return _ATTRIBUTE_COLUMNS[ident.key], ident.key in _NULLABLE_ATTRIBUTES
    if ident.kind is Kind.METRIC:
        s = metric_summaries.alias()
        col = getattr(s.c, ident.aggregate)
        return (
            sa.select(col).where(s.c.run_id == runs.c.run_id, s.c.key == ident.key)
        ).scalar_subquery(), True
    t = _kv_table(ident.kind).alias()
    value = sa.select(t.c.value).where(t.c.run_id == runs.c.run_id, t.c.key == ident.key)
    return value.scalar_subquery(), True


def _order_terms(order: Sequence[OrderKey], dialect: str) -> list[Any]:
    terms: list[Any] = []
    for key in order:
        value, nullable = _sort_value(key.ident)
        if dialect == "postgresql" and not key.ident.is_numeric:
            value = value.collate("C")  # byte order, as on SQLite, whatever the locale
        if nullable:
            terms.append(sa.case((value.is_(None), 1), else_=0))
        terms.append(value.asc() if key.ascending else value.desc())
    terms += [runs.c.start_time.desc(), runs.c.run_id.asc()]
    return terms


def _view_clause(q: SearchQuery) -> Any:
    if q.view is LifecycleStage.ACTIVE:
        return runs.c.lifecycle_stage == LifecycleStage.ACTIVE.value
    if q.view is LifecycleStage.DELETED:
        return sa.or_(
            runs.c.lifecycle_stage == LifecycleStage.DELETED.value,
            runs.c.experiment_id.in_(q.deleted_experiment_ids),
        )
    return sa.true()


def _indexed_metric(q: SearchQuery) -> str | None:
    if not q.order:
        return None
    first = q.order[0].ident
    if first.kind is Kind.METRIC and first.aggregate == "latest":
        return first.key
    return None


def _experiment_clause(column: Any, ids: tuple[int, ...]) -> Any:
    return column == ids[0] if len(ids) == 1 else column.in_(ids)


def _phase_a(q: SearchQuery, metric: str) -> sa.Select[Any]:
    s0 = metric_summaries.alias("s0")
    ascending = q.order[0].ascending
    where = [
        _experiment_clause(s0.c.experiment_id, q.experiment_ids),
        s0.c.key == metric,
        s0.c.latest.is_not(None),
        _view_clause(q),
    ]
    if q.expr is not None:
        where.append(_compile(q.expr, metric, s0))
    return (
        sa.select(runs.c.run_id)
        .select_from(s0.join(runs, runs.c.run_id == s0.c.run_id))
        .where(*where)
        .order_by(
            s0.c.latest.asc() if ascending else s0.c.latest.desc(),
            *_order_terms(q.order[1:], q.dialect),
        )
    )


def _phase_b(q: SearchQuery, metric: str) -> sa.Select[Any]:
    s = metric_summaries.alias()
    where = [
        _experiment_clause(runs.c.experiment_id, q.experiment_ids),
        _view_clause(q),
        ~sa.exists().where(s.c.run_id == runs.c.run_id, s.c.key == metric, s.c.latest.is_not(None)),
    ]
    if q.expr is not None:
        where.append(_compile(q.expr, None, None))
    return sa.select(runs.c.run_id).where(*where).order_by(*_order_terms(q.order[1:], q.dialect))


def _single(q: SearchQuery) -> sa.Select[Any]:
    where = [_experiment_clause(runs.c.experiment_id, q.experiment_ids), _view_clause(q)]
    if q.expr is not None:
        where.append(_compile(q.expr, None, None))
    return sa.select(runs.c.run_id).where(*where).order_by(*_order_terms(q.order, q.dialect))


def _fetch(conn: sa.Connection, query: sa.Select[Any], offset: int, limit: int) -> list[str]:
    return list(conn.execute(query.limit(limit).offset(offset)).scalars())


def search_run_ids(
    conn: sa.Connection, q: SearchQuery, state: dict[str, Any], limit: int
) -> tuple[list[str], dict[str, Any] | None]:
    """One page of matching run ids and the state for the next page (None when done).

    Args:
        conn: an open connection.
        q: the search.
        state: ``{}`` for the first page, else the state returned before.
        limit: page size.
    """
    if not q.experiment_ids:
        return [], None
    offset = int(state.get("o", 0))
    metric = _indexed_metric(q)
    if metric is None:
        ids = _fetch(conn, _single(q), offset, limit + 1)
        return ids[:limit], ({"o": offset + limit} if len(ids) > limit else None)
    ids = []
    if state.get("p", "A") == "A":
        ids = _fetch(conn, _phase_a(q, metric), offset, limit + 1)
        if len(ids) > limit:
            return ids[:limit], {"p": "A", "o": offset + limit}
        offset = 0
    room = limit - len(ids)
    rest = _fetch(conn, _phase_b(q, metric), offset, room + 1)
    more = len(rest) > room
    return ids + rest[:room], ({"p": "B", "o": offset + room} if more else None)
