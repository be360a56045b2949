"""Request tensors checked against a model's signature: what a client is told when it is wrong."""

from __future__ import annotations

import numpy as np
import pytest

from runyard.errors import InvalidArgument
from runyard.registry.signature import Signature, TensorSpec
from runyard.serving.codec import check_inputs, decode_json_input, encode_json_output

ONE = Signature(inputs=(TensorSpec("input", "FP32", (-1, 4)),), outputs=())


def _tensor(shape: list[int], name: str = "input", datatype: str = "FP32") -> object:
    n = int(np.prod(shape))
    return {"name": name, "shape": shape, "datatype": datatype, "data": [0.5] * n}


def test_a_single_input_is_checked_like_any_other() -> None:
    ok = check_inputs(ONE, [decode_json_input(_tensor([3, 4]))], max_batch=8)
    assert ok["input"].shape == (3, 4) and ok["input"].dtype == np.float32
    cases = [
        (_tensor([9, 4]), "exceeds this server's limit of 8 rows"),
        (_tensor([3, 5]), "must have shape [-1, 4]"),
        (_tensor([3, 4], name="x"), "unknown input(s) ['x']"),
        (_tensor([3, 4], datatype="FP64"), "must be FP32, got FP64"),
    ]
    for raw, message in cases:
        with pytest.raises(InvalidArgument) as e:
            check_inputs(ONE, [decode_json_input(raw)], max_batch=8)
        assert message in str(e.value)


@pytest.mark.parametrize(
    ("shape", "message"),
    [([1, True], "bad dimension True"), ([1, -4], "bad dimension -4"), ("1,4", "list of integers")],
)
def test_a_bad_shape_says_which_dimension(shape: object, message: str) -> None:
    raw = {"name": "input", "shape": shape, "datatype": "FP32", "data": [0.5] * 4}
    with pytest.raises(InvalidArgument, match=message.replace("[", r"\[")):
        decode_json_input(raw)


def test_unknown_datatypes_are_refused_and_outputs_keep_theirs() -> None:
    with pytest.raises(InvalidArgument, match="unknown datatype 'FP8'"):
        decode_json_input(_tensor([1, 4], datatype="FP8"))
    for dtype, datatype in [(np.float32, "FP32"), (np.int64, "INT64"), (np.float32, "FP32")]:
        entry = encode_json_output("y", np.zeros((2, 3), dtype))
        assert entry["datatype"] == datatype and entry["shape"] == [2, 3]
