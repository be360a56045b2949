"""The filter language parses what users write and points at what it cannot parse."""

import pytest

from runyard.errors import InvalidFilter
from runyard.tracking.filter import (
    BoolOp,
    Comparison,
    Identifier,
    Kind,
    decode_page_token,
    encode_page_token,
    parse_filter,
    parse_order_by,
)


def test_empty_filter_is_none() -> None:
    assert parse_filter("") is None
    assert parse_filter("   ") is None


def test_comparison_ast() -> None:
    assert parse_filter("metrics.acc >= 0.5") == Comparison(
        Identifier(Kind.METRIC, "acc", "latest", 0), ">=", 0.5, 0
    )


@pytest.mark.parametrize(
    ("text", "kind", "key"),
    [
        ("metrics.`val/acc` > 1", Kind.METRIC, "val/acc"),
        ('metrics."train loss" > 1', Kind.METRIC, "train loss"),
        ("metric.a.b.c > 1", Kind.METRIC, "a.b.c"),
        ("params.`model.depth` = '3'", Kind.PARAM, "model.depth"),
        ("tags.`mlflow.runName` = 'x'", Kind.TAG, "mlflow.runName"),
        ("attributes.run_name = 'x'", Kind.ATTRIBUTE, "name"),
        ("run_name = 'x'", Kind.ATTRIBUTE, "name"),
        ("STATUS = 'x'", Kind.ATTRIBUTE, "status"),
    ],
)
def test_identifiers(text: str, kind: Kind, key: str) -> None:
    cmp = parse_filter(text)
    assert isinstance(cmp, Comparison)
    assert (cmp.ident.kind, cmp.ident.key) == (kind, key)


def test_metric_aggregates() -> None:
    cmp = parse_filter("metrics.`loss`.min < 0.1")
    assert isinstance(cmp, Comparison)
    assert (cmp.ident.key, cmp.ident.aggregate) == ("loss", "min")


def test_precedence_and_case_insensitive_keywords() -> None:
    expr = parse_filter("params.a = '1' OR params.b = '2' And params.c = '3'")
    assert isinstance(expr, BoolOp) and expr.op == "or"
    assert isinstance(expr.operands[1], BoolOp) and expr.operands[1].op == "and"
    grouped = parse_filter("(params.a = '1' or params.b = '2') and params.c = '3'")
    assert isinstance(grouped, BoolOp) and grouped.op == "and"


def test_lists_and_string_escapes() -> None:
    cmp = parse_filter("params.opt NOT IN ('a''b', \"c\\\"d\")")
    assert isinstance(cmp, Comparison)
    assert (cmp.op, cmp.value) == ("not in", ("a'b", 'c"d'))
    nums = parse_filter("metrics.x in (1, -2.5, 3e2)")
    assert isinstance(nums, Comparison) and nums.value == (1.0, -2.5, 300.0)


def test_error_message_shows_a_caret() -> None:
    with pytest.raises(InvalidFilter) as info:
        parse_filter("params.lr > '0.1'")
    message = str(info.value)
    assert "params are strings" in message
    assert message.endswith("params.lr > '0.1'\n            ^")


def test_unclosed_backquote() -> None:
    with pytest.raises(InvalidFilter) as info:
        parse_filter("metrics.`val/acc > 1")
    assert info.value.position == 8


def test_order_by() -> None:
    key = parse_order_by("metrics.`val/acc` DESC")
    assert (key.ident.key, key.ascending) == ("val/acc", False)
    assert parse_order_by("start_time asc").ascending
    with pytest.raises(InvalidFilter) as info:
        parse_order_by("metrics.acc desc extra")
    assert info.value.position == 17


def test_page_tokens_roundtrip() -> None:
    assert decode_page_token(encode_page_token({"p": "B", "o": 7})) == {"p": "B", "o": 7}
