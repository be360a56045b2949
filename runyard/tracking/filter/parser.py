"""A recursive-descent parser for search filters and order_by clauses.

Grammar (keywords are case-insensitive)::

    filter     := or_expr END | END
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := primary ("and" primary)*
    primary    := "(" or_expr ")" | comparison
    comparison := ident op literal | ident ["not"] "in" "(" literal ("," literal)* ")"
    op         := "=" | "!=" | "<" | "<=" | ">" | ">=" | ["not"] ("like" | "ilike")
    ident      := ("metrics" | "params" | "tags" | "attributes") "." key | attribute
    order_by   := ident ["asc" | "desc"]

Example:
    >>> from runyard.tracking.filter import parse_filter, parse_order_by
    >>> parse_filter("metrics.`val/acc` >= 0.5 and params.lr in ('0.1', '0.01')").op
    'and'
    >>> parse_order_by("metrics.acc DESC").ascending
    False
"""

from __future__ import annotations

from runyard.errors import InvalidFilter
from runyard.tracking.filter.nodes import (
    ATTRIBUTES,
    BoolOp,
    Comparison,
    Expr,
    Identifier,
    Kind,
    Literal,
    OrderKey,
)
from runyard.tracking.filter.tokenizer import Tok, Token, tokenize

__all__ = ["parse_filter", "parse_order_by"]

_PREFIXES = {
    "metric": Kind.METRIC,
    "metrics": Kind.METRIC,
    "param": Kind.PARAM,
    "params": Kind.PARAM,
    "parameter": Kind.PARAM,
    "parameters": Kind.PARAM,
    "tag": Kind.TAG,
    "tags": Kind.TAG,
    "attribute": Kind.ATTRIBUTE,
    "attributes": Kind.ATTRIBUTE,
    "attr": Kind.ATTRIBUTE,
    "run": Kind.ATTRIBUTE,
}
_ATTRIBUTE_ALIASES = {"run_name": "name", "runname": "name", "id": "run_id"}
_AGGREGATES = ("latest", "min", "max")
_NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">=", "in", "not in"})
_STRING_OPS = frozenset({"=", "!=", "like", "ilike", "not like", "not ilike", "in", "not in"})
_KEYWORDS = frozenset({"and", "or", "not", "in", "like", "ilike", "asc", "desc"})


def _identifier(tok: Token, text: str) -> Identifier:
    if tok.kind is Tok.IDENT and tok.prefix:
        kind = _PREFIXES.get(tok.prefix.lower())
        if kind is None:
            raise InvalidFilter(
                f"unknown identifier prefix {tok.prefix!r}; use metrics., params., tags. "
                "or attributes.",
                text,
                tok.position,
            )
        key = tok.key
        if kind is Kind.ATTRIBUTE:
            return Identifier(kind, _attribute(key, tok, text), position=tok.position)
        aggregate = tok.suffix.lower() or "latest"
        if tok.suffix and (kind is not Kind.METRIC or aggregate not in _AGGREGATES):
            raise InvalidFilter(
                f"unknown suffix {tok.suffix!r}; only metrics take .min, .max or .latest",
                text,
                tok.position,
            )
        return Identifier(kind, key, aggregate, tok.position)
    if tok.kind in (Tok.WORD, Tok.IDENT) and tok.key.lower() not in _KEYWORDS:
        return Identifier(Kind.ATTRIBUTE, _attribute(tok.key, tok, text), position=tok.position)
    raise InvalidFilter(
        f"expected an identifier (metrics.<key>, params.<key>, tags.<key> or an attribute), "
        f"got {_describe(tok)}",
        text,
        tok.position,
    )


def _attribute(name: str, tok: Token, text: str) -> str:
    canonical = _ATTRIBUTE_ALIASES.get(name.lower(), name.lower())
    if canonical not in ATTRIBUTES:
        raise InvalidFilter(
            f"unknown attribute {name!r} (known: {', '.join(sorted(ATTRIBUTES))}); "
            f"did you mean metrics.{name}, params.{name} or tags.{name}?",
            text,
            tok.position,
        )
    return canonical


def _describe(tok: Token) -> str:
    if tok.kind is Tok.END:
        return "the end of the filter"
    return f"{tok.kind.value} {tok.text!r}"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def at(self, kind: Tok) -> bool:
        return self.tok.kind is kind

    def is_word(self, *words: str) -> bool:
        return self.at(Tok.WORD) and self.tok.text.lower() in words

    def fail(self, message: str, tok: Token | None = None) -> InvalidFilter:
        return InvalidFilter(message, self.text, (tok or self.tok).position)

    def advance(self) -> Token:
        tok = self.tok
        self.i += 1
        return tok

    def parse(self) -> Expr | None:
        if self.at(Tok.END):
            return None
        expr = self.or_expr()
        if self.at(Tok.RPAREN):
            raise self.fail("unmatched ')'")
        if not self.at(Tok.END):
            raise self.fail(f"expected 'and', 'or' or the end, got {_describe(self.tok)}")
        return expr

    def or_expr(self) -> Expr:
        operands = [self.and_expr()]
        while self.is_word("or"):
            self.advance()
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands))

    def and_expr(self) -> Expr:
        operands = [self.primary()]
        while self.is_word("and"):
            self.advance()
            operands.append(self.primary())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands))

    def primary(self) -> Expr:
        if self.at(Tok.LPAREN):
            opening = self.advance()
            expr = self.or_expr()
            if not self.at(Tok.RPAREN):
                if self.at(Tok.END):
                    raise self.fail("unclosed '('", opening)
                raise self.fail(f"expected ')', got {_describe(self.tok)}")
            self.advance()
            return expr
        return self.comparison()

    def operator(self) -> tuple[str, Token]:
        tok = self.tok
        if tok.kind is Tok.OP:
            self.advance()
            return {"==": "=", "<>": "!="}.get(tok.text, tok.text), tok
        if self.is_word("like", "ilike", "in"):
            return self.advance().text.lower(), tok
        if self.is_word("not"):
            self.advance()
            if self.is_word("like", "ilike", "in"):
                return "not " + self.advance().text.lower(), tok
            raise self.fail(
                f"expected 'in', 'like' or 'ilike' after 'not', got {_describe(self.tok)}"
            )
        raise self.fail(f"expected a comparison operator, got {_describe(tok)}")

    def comparison(self) -> Comparison:
        ident = _identifier(self.tok, self.text)
        self.advance()
        op, op_tok = self.operator()
        self.check_operator(ident, op, op_tok)
        if op in ("in", "not in"):
            value: Literal = self.literal_list(ident, op_tok)
        else:
            value = self.literal(ident, op_tok)
        return Comparison(ident, op, value, ident.position)

    def check_operator(self, ident: Identifier, op: str, tok: Token) -> None:
        if ident.is_numeric and op not in _NUMERIC_OPS:
            raise self.fail(f"operator {op!r} does not apply to the number {_name(ident)}", tok)
        if not ident.is_numeric and op not in _STRING_OPS:
            hint = ""
            if ident.kind is Kind.PARAM:
                hint = (
                    "; params are strings, so compare with =, !=, like or in "
                    "(log the value as a metric to compare it numerically)"
                )
            raise self.fail(
                f"operator {op!r} does not apply to the string {_name(ident)}{hint}", tok
            )

    def literal(self, ident: Identifier, op_tok: Token) -> str | float:
        tok = self.tok
        if tok.kind is Tok.END or tok.kind in (Tok.RPAREN, Tok.COMMA) or self.is_word("and", "or"):
            raise self.fail(f"missing value after {op_tok.text!r}", tok)
        if ident.is_numeric:
            if tok.kind is not Tok.NUMBER:
                raise self.fail(f"{_name(ident)} compares with a number, got {_describe(tok)}")
            self.advance()
            return float(tok.text)
        if tok.kind is not Tok.STRING:
            raise self.fail(
                f"{_name(ident)} compares with a quoted string, got {_describe(tok)}"
                + (f" (write '{tok.text}')" if tok.kind is Tok.NUMBER else "")
            )
        self.advance()
        return tok.text

    def literal_list(self, ident: Identifier, op_tok: Token) -> tuple[str, ...] | tuple[float, ...]:
        if not self.at(Tok.LPAREN):
            raise self.fail(
                f"expected '(' and a list after {op_tok.text!r}, got {_describe(self.tok)}"
            )
        opening = self.advance()
        values = [self.literal(ident, op_tok)]
        while self.at(Tok.COMMA):
            self.advance()
            values.append(self.literal(ident, op_tok))
        if not self.at(Tok.RPAREN):
            if self.at(Tok.END):
                raise self.fail("unclosed '('", opening)
            raise self.fail(f"expected ',' or ')', got {_describe(self.tok)}")
        self.advance()
        if ident.is_numeric:
            return tuple(float(v) for v in values)
        return tuple(str(v) for v in values)


def _name(ident: Identifier) -> str:
    if ident.kind is Kind.ATTRIBUTE:
        return f"attribute {ident.key!r}"
    return f"{ident.kind.value} {ident.key!r}"


def parse_filter(text: str) -> Expr | None:
    """Parse a filter; None for an empty one.

    Raises:
        InvalidFilter: with the position of the offending token.

    Example:
        >>> parse_filter("status = 'FINISHED' or (metrics.loss < 0.1)").op
        'or'
    """
    return _Parser(text or "").parse()


def parse_order_by(clause: str) -> OrderKey:
    """Parse one order_by clause, ``<ident> [asc|desc]``.

    Raises:
        InvalidFilter: with the position of the offending token.

    Example:
        >>> parse_order_by("start_time").ident.key
        'start_time'
    """
    p = _Parser(clause)
    if p.at(Tok.END):
        raise p.fail("empty order_by clause")
    ident = _identifier(p.tok, clause)
    p.advance()
    ascending = True
    if p.is_word("asc", "desc"):
        ascending = p.advance().text.lower() == "asc"
    if not p.at(Tok.END):
        raise p.fail(f"expected 'asc', 'desc' or the end, got {_describe(p.tok)}")
    return OrderKey(ident, ascending)
