"""The search filter language, independent of any store.

Parse a filter into a small frozen AST (:mod:`runyard.tracking.filter.nodes`) that each
backend compiles (SQL in :mod:`runyard.tracking.store.sql.search`); the REST store and the
MLflow-compatible API reuse the same parser.

Example:
    >>> from runyard.tracking.filter import parse_filter
    >>> expr = parse_filter("metrics.acc > 0.9 and params.lr = '0.1'")
    >>> [c.ident.key for c in expr.operands]
    ['acc', 'lr']
"""

from runyard.tracking.filter.nodes import (
    ATTRIBUTES,
    NUMERIC_ATTRIBUTES,
    BoolOp,
    Comparison,
    Expr,
    Identifier,
    Kind,
    Literal,
    OrderKey,
)
from runyard.tracking.filter.page_token import decode_page_token, encode_page_token
from runyard.tracking.filter.parser import parse_filter, parse_order_by

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
    "decode_page_token",
    "encode_page_token",
    "parse_filter",
    "parse_order_by",
]
