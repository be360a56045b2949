"""``experiments/search``: MLflow's experiment filters, evaluated over the store's listing.

Supported: ``name`` and ``tags.<key>`` compared with ``=``, ``!=``, ``LIKE``, ``ILIKE``,
joined by ``AND``; ``order_by`` on ``name``, ``experiment_id``, ``creation_time`` or
``last_update_time`` with ``ASC``/``DESC``. Anything else is refused with a clear error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from runyard.entities import Experiment
from runyard.errors import InvalidArgument
from runyard.server.mlflow_compat.convert import opt_int
from runyard.tracking.filter import decode_page_token, encode_page_token
from runyard.tracking.store.base import TrackingStore, ViewType

__all__ = ["search_experiments"]

_CLAUSE = re.compile(
    r"""^\s*(?P<field>name|attributes\.name|tags\.(?:`[^`]+`|"[^"]+"|[\w.\-/]+))\s*
    (?P<op>=|!=|LIKE|ILIKE)\s*(?P<q>['"])(?P<value>.*?)(?P=q)\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_ORDER = {"name", "experiment_id", "creation_time", "last_update_time"}


def _like(pattern: str, case: bool) -> re.Pattern[str]:
    parts = (".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile("^" + "".join(parts) + "$", 0 if case else re.IGNORECASE)


def _predicate(clause: str) -> Callable[[Experiment], bool]:
    m = _CLAUSE.match(clause)
    if m is None:
        raise InvalidArgument(f"unsupported experiment filter clause {clause.strip()!r}")
    field, op, value = m["field"], m["op"].upper(), m["value"]
    if field.lower().startswith("tags."):
        key = field[5:].strip('`"')

        def get(e: Experiment) -> str | None:
            return e.tags.get(key)
    else:

        def get(e: Experiment) -> str | None:
            return e.name

    if op in ("LIKE", "ILIKE"):
        rx = _like(value, op == "LIKE")
        return lambda e: (v := get(e)) is not None and rx.match(v) is not None
    if op == "=":
        return lambda e: get(e) == value
    return lambda e: (v := get(e)) is not None and v != value


def search_experiments(
    store: TrackingStore, p: dict[str, Any], view: ViewType
) -> tuple[list[Experiment], str | None]:
    """One page of experiments matching MLflow's ``filter`` and ``order_by``."""
    text = str(p.get("filter") or "").strip()
    clauses = re.split(r"\s+AND\s+", text, flags=re.IGNORECASE) if text else []
    preds = [_predicate(c) for c in clauses]
    everything: list[Experiment] = []
    token = None
    while True:
        page = store.search_experiments(view, 50_000, token)
        everything += [e for e in page if all(f(e) for f in preds)]
        token = page.next_page_token
        if token is None:
            break
    order = p.get("order_by") or []
    for clause in reversed(order if isinstance(order, list) else [order]):
        field, _, direction = str(clause).strip().partition(" ")
        field = field.removeprefix("attributes.")
        if field not in _ORDER or direction.strip().upper() not in ("", "ASC", "DESC"):
            raise InvalidArgument(f"unsupported experiment order_by {clause!r}")
        attr = "creation_time" if field == "last_update_time" else field

        def key(e: Experiment, attr: str = attr) -> Any:
            value = getattr(e, attr)
            return int(value) if attr == "experiment_id" else value

        everything.sort(key=key, reverse=direction.strip().upper() == "DESC")
    size = opt_int(p, "max_results") or 1000
    if not 1 <= size <= 50_000:
        raise InvalidArgument("max_results must be from 1 to 50000")
    start = 0
    if p.get("page_token"):
        start = decode_page_token(str(p["page_token"])).get("o", 0)
        if not isinstance(start, int) or start < 0:
            raise InvalidArgument("invalid page token")
    chunk = everything[start : start + size]
    more = start + size < len(everything)
    return chunk, encode_page_token({"o": start + size}) if more else None
