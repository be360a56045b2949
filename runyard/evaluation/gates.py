"""Gates: a small rule language checked against an evaluation or a comparison.

Grammar (one rule per string)::

    rule       := 'not' rule | check
    check      := call | value OP NUMBER
    call       := FUNC '(' metric (',' NAME '=' literal)* ')'
    value      := metric                                   overall value (B's, on a Comparison)
                | 'slice' '(' NAME '=' literal (',' NAME '=' literal)* ')' '.' metric
                | STAT '(' metric (',' 'slice' '=' STRING)? ')'
    FUNC       := 'no_slice_regression' | 'significant_regression' | 'significant_improvement'
    STAT       := 'delta' | 'ci_low' | 'ci_high'
    metric     := NAME ('[' class ']')?                    e.g. accuracy, f1[cat]
    OP         := '>=' | '<=' | '>' | '<' | '==' | '!='
    literal    := NUMBER | STRING | 'true' | 'false' | NAME

``delta`` needs a Comparison; ``ci_low``/``ci_high`` are the value's interval on an
EvalResult and the delta's interval on a Comparison.
``no_slice_regression(m, max_drop=0.0, min_size=30, significant=false)`` fails when any
slice with at least ``min_size`` examples got worse by more than ``max_drop`` (only
significant drops when ``significant=true``). ``significant_regression(m)`` is true when the
overall difference is a significant regression (``slices=true``: any slice).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from runyard.errors import InvalidArgument, InvalidFilter, NotFound
from runyard.evaluation.compare import Comparison
from runyard.evaluation.result import EvalResult
from runyard.evaluation.slices import OVERALL

__all__ = ["GateVerdict", "RuleOutcome", "gate", "parse_rule"]

_TOKEN = re.compile(
    r"\s*(?:(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"|(?P<str>\"[^\"]*\"|'[^']*')"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?)"
    r"|(?P<op>>=|<=|==|!=|>|<)"
    r"|(?P<punct>[(),.=]))"
)
_FUNCS = ("no_slice_regression", "significant_regression", "significant_improvement")
_STATS = ("delta", "ci_low", "ci_high")
_OPS = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    pos: int


@dataclass(frozen=True, slots=True)
class Rule:
    """A parsed rule (see the module grammar)."""

    text: str
    negate: bool
    kind: str  # "compare" or a FUNC name
    stat: str  # "value", "delta", "ci_low", "ci_high"
    metric: str
    metric_pos: int
    where: tuple[tuple[str, str], ...]
    op: str = ""
    threshold: float = math.nan
    options: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """One rule's verdict.

    Attributes:
        rule: the rule as written.
        passed: whether it holds.
        reason: why, in words (values and thresholds).
    """

    rule: str
    passed: bool
    reason: str


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """The result of :func:`gate`: passed only if every rule holds.

    Attributes:
        passed: all rules hold.
        outcomes: one per rule, in order.
    """

    passed: bool
    outcomes: tuple[RuleOutcome, ...]

    def __bool__(self) -> bool:
        return self.passed

    @property
    def reasons(self) -> tuple[str, ...]:
        """``"PASS rule: reason"`` / ``"FAIL rule: reason"`` lines."""
        return tuple(
            f"{'PASS' if o.passed else 'FAIL'} {o.rule}: {o.reason}" for o in self.outcomes
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for storing next to a model version)."""
        return {
            "passed": self.passed,
            "rules": [
                {"rule": o.rule, "passed": o.passed, "reason": o.reason} for o in self.outcomes
            ],
        }


def _tokens(text: str) -> list[_Tok]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise InvalidFilter(
                f"unexpected character {text[pos:].lstrip()[:1]!r}",
                text,
                pos + len(text[pos:]) - len(text[pos:].lstrip()),
            )
        kind = m.lastgroup or ""
        out.append(_Tok(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    out.append(_Tok("end", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self, kind: str | None = None, text: str | None = None, what: str = "") -> _Tok:
        tok = self.toks[self.i]
        if (kind and tok.kind != kind) or (text and tok.text != text):
            found = "end of rule" if tok.kind == "end" else repr(tok.text)
            raise InvalidFilter(
                f"expected {what or text or kind}, found {found}", self.text, tok.pos
            )
        self.i += 1
        return tok

    def literal(self) -> Any:
        tok = self.take(what="a value")
        if tok.kind == "num":
            return float(tok.text)
        if tok.kind == "str":
            return tok.text[1:-1]
        if tok.kind == "name":
            return {"true": True, "false": False}.get(tok.text, tok.text)
        raise InvalidFilter(f"expected a value, found {tok.text!r}", self.text, tok.pos)

    def pairs(self) -> list[tuple[str, Any, int]]:
        out = []
        while self.peek().text == ",":
            self.take()
            name = self.take("name", what="an option name")
            self.take(text="=")
            out.append((name.text, self.literal(), name.pos))
        return out

    def rule(self) -> Rule:
        negate = False
        while self.peek().text == "not":
            self.take()
            negate = not negate
        tok = self.take("name", what="a metric, slice(...), a statistic or a check")
        if tok.text in _FUNCS:
            self.take(text="(")
            metric = self.take("name", what="a metric name")
            opts = self.pairs()
            self.take(text=")")
            allowed = {
                "no_slice_regression": {"max_drop", "min_size", "significant"},
                "significant_regression": {"slices", "min_size"},
                "significant_improvement": {"slices", "min_size"},
            }[tok.text]
            for name, _, pos in opts:
                if name not in allowed:
                    raise InvalidFilter(
                        f"{tok.text} has no option {name!r}; options: {sorted(allowed)}",
                        self.text,
                        pos,
                    )
            self.take("end", what="end of rule")
            return Rule(
                self.text,
                negate,
                tok.text,
                "value",
                metric.text,
                metric.pos,
                (),
                options=tuple((n, v) for n, v, _ in opts),
            )
        where: list[tuple[str, str]] = []
        stat = "value"
        if tok.text == "slice" and self.peek().text == "(":
            self.take()
            column = self.take("name", what="a slice column")
            self.take(text="=")
            where.append((column.text, _shown(self.literal())))
            where += [(n, _shown(v)) for n, v, _ in self.pairs()]
            self.take(text=")")
            self.take(text=".")
            metric = self.take("name", what="a metric name")
        elif tok.text in _STATS and self.peek().text == "(":
            stat = tok.text
            self.take()
            metric = self.take("name", what="a metric name")
            for name, value, pos in self.pairs():
                if name != "slice":
                    raise InvalidFilter(f"{stat} takes only slice=, not {name!r}", self.text, pos)
                where = [(c, v) for c, v in _label_pairs(str(value))]
            self.take(text=")")
        else:
            metric = tok
        op = self.take("op", what="a comparison (>=, <=, >, <, ==, !=)")
        num = self.take("num", what="a number")
        self.take("end", what="end of rule")
        return Rule(
            self.text,
            negate,
            "compare",
            stat,
            metric.text,
            metric.pos,
            tuple(where),
            op.text,
            float(num.text),
        )


def parse_rule(text: str) -> Rule:
    """Parse one rule.

    Raises:
        InvalidFilter: the rule does not parse; the error carries the position of the bad
            token and shows a caret under it.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidFilter("a gate rule must be a non-empty string", str(text), 0)
    return _Parser(text).rule()


def _shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _label_pairs(label: str) -> list[tuple[str, str]]:
    if label == OVERALL:
        return []
    return [(p.partition("=")[0].strip(), p.partition("=")[2].strip()) for p in label.split(" & ")]


def _label(target: EvalResult | Comparison, where: tuple[tuple[str, str], ...]) -> str:
    config = target.config if isinstance(target, EvalResult) else target.b
    order = [c for c, _ in config.slices]
    for c, _ in where:
        if c not in order:
            raise NotFound(f"{c!r} is not a slice column; slice columns: {order}")
    given = dict(where)
    return " & ".join(f"{c}={given[c]}" for c in order if c in given) or OVERALL


def gate(target: EvalResult | Comparison, *rules: str) -> GateVerdict:
    """Check rules against an evaluation or a comparison.

    Every rule is parsed before any is checked, so a typo fails fast. A rule that refers to
    something absent (an empty slice, a metric not computed) fails with that reason.

    Args:
        target: an :class:`EvalResult`, or a :class:`Comparison` (plain metrics then refer
            to B, the candidate).
        *rules: rules in the gate language (see the module docstring).

    Returns:
        A frozen :class:`GateVerdict`.

    Raises:
        InvalidFilter: a rule does not parse, or names a metric the target lacks (with the
            position of the bad token).
        InvalidArgument: a rule needs a Comparison but got an EvalResult.

    Example:
        >>> import runyard as ry
        >>> verdict = ry.gate(  # doctest: +SKIP
        ...     cmp, "accuracy >= 0.95",
        ...     "no_slice_regression(accuracy, max_drop=0.02, min_size=200)")
        >>> verdict.passed, verdict.reasons  # doctest: +SKIP
    """
    if not isinstance(target, EvalResult | Comparison):
        raise InvalidArgument(
            f"gate checks an EvalResult or a Comparison, got {type(target).__name__}"
        )
    if not rules:
        raise InvalidArgument("gate needs at least one rule")
    parsed = [parse_rule(r) for r in rules]
    metrics = target.metrics
    for r in parsed:
        if r.metric not in metrics:
            raise InvalidFilter(
                f"metric {r.metric!r} is not in the {type(target).__name__}; "
                f"metrics: {list(metrics)}",
                r.text,
                r.metric_pos,
            )
        needs_cmp = r.kind != "compare" or r.stat == "delta"
        if needs_cmp and not isinstance(target, Comparison):
            raise InvalidArgument(
                f"rule {r.text!r} needs a Comparison (ry.compare(a, b)), not an EvalResult"
            )
    outcomes = tuple(_check(target, r) for r in parsed)
    return GateVerdict(all(o.passed for o in outcomes), outcomes)


def _check(target: EvalResult | Comparison, r: Rule) -> RuleOutcome:
    try:
        holds, reason = _holds(target, r)
    except NotFound as e:
        return RuleOutcome(r.text, False, str(e))
    if r.negate:
        holds = not holds
    return RuleOutcome(r.text, holds, reason)


def _holds(target: EvalResult | Comparison, r: Rule) -> tuple[bool, str]:
    if r.kind == "compare":
        label = _label(target, r.where)
        value = _stat(target, r.stat, r.metric, label)
        name = r.metric if r.stat == "value" else f"{r.stat}({r.metric})"
        where = "" if label == OVERALL else f" on {label}"
        if value is None or math.isnan(value):
            return False, f"{name}{where} is undefined (NaN)"
        ok = bool(_OPS[r.op](value, r.threshold))
        return ok, f"{name}{where} = {value:.6g} (needs {r.op} {r.threshold:g})"
    if not isinstance(target, Comparison):  # pragma: no cover - gate() refuses this earlier
        raise InvalidArgument(f"rule {r.text!r} needs a Comparison")
    opts: Mapping[str, Any] = dict(r.options)
    t = target.table
    rows = [i for i, m in enumerate(t.column("metric").to_pylist()) if m == r.metric]
    slices = t.column("slice").to_pylist()
    n = t.column("n").to_pylist()
    delta = t.column("delta").to_pylist()
    direction = t.column("direction").to_pylist()
    min_size = int(opts.get("min_size", target.b.min_size))
    if r.kind == "no_slice_regression":
        max_drop = float(opts.get("max_drop", 0.0))
        only_sig = bool(opts.get("significant", False))
        sign = 1.0 if target.b.greater_is_better[r.metric] else -1.0
        bad = [
            (slices[i], -sign * delta[i])
            for i in rows
            if n[i] >= min_size
            and not np.isnan(delta[i])
            and -sign * delta[i] > max_drop
            and (not only_sig or direction[i] == "regression")
        ]
        checked = sum(1 for i in rows if n[i] >= min_size)
        if not bad:
            return (
                True,
                f"no slice of >= {min_size} examples dropped more than {max_drop:g} "
                f"({checked} checked)",
            )
        bad.sort(key=lambda x: -x[1])
        shown = "; ".join(f"{s} dropped {d:.4g}" for s, d in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        return False, f"{len(bad)} slice(s) dropped more than {max_drop:g}: {shown}{more}"
    want = "regression" if r.kind == "significant_regression" else "improvement"
    scope = [
        i
        for i in rows
        if (bool(opts.get("slices", False)) or slices[i] == OVERALL) and n[i] >= min_size
    ]
    hits = [slices[i] for i in scope if direction[i] == want]
    if hits:
        return True, f"significant {want} of {r.metric} on {', '.join(hits[:5])}"
    return False, f"no significant {want} of {r.metric} ({len(scope)} slice(s) tested)"


def _stat(target: EvalResult | Comparison, stat: str, metric: str, label: str) -> float | None:
    if isinstance(target, EvalResult):
        row = target.row(metric, label)
        col = "value" if stat == "value" else stat
        v = target.table.column(col)[row].as_py()
        return None if v is None else float(v)
    col = {"value": "b", "delta": "delta", "ci_low": "ci_low", "ci_high": "ci_high"}[stat]
    v = target.get(col, metric, label)
    return None if v is None else float(v)
