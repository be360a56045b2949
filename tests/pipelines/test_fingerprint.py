"""Fingerprints and cache keys are pure: same content, same key; any real change, a new key."""

import dataclasses
import enum
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from runyard.pipelines.cache_key import KeyComponents, cache_key, diff_components
from runyard.pipelines.fingerprint import Unhashable, code_fingerprint, fingerprint
from runyard.pipelines.loader import load_pipeline


def test_equal_content_gives_equal_fingerprints() -> None:
    assert fingerprint({"a": [1, 2], "b": "x"}) == fingerprint({"b": "x", "a": [1, 2]})
    assert fingerprint(np.arange(5)) == fingerprint(np.arange(5))
    frame = {"a": [1, 2], "b": ["x", "y"]}
    assert fingerprint(pd.DataFrame(frame)) == fingerprint(pd.DataFrame(frame))
    assert fingerprint(pl.DataFrame(frame)) == fingerprint(pl.DataFrame(frame))


def test_values_that_differ_in_type_or_content_differ() -> None:
    distinct = [1, 1.0, True, "1", b"1", [1], (1,), {1}, None, np.int64(1), np.arange(1)]
    assert len({fingerprint(v) for v in distinct}) == len(distinct)
    assert fingerprint(np.zeros(3, dtype="f4")) != fingerprint(np.zeros(3, dtype="f8"))
    assert fingerprint(float("nan")) == fingerprint(float("nan"))


class Colour(enum.Enum):
    RED = 1


@dataclasses.dataclass
class Config:
    lr: float
    colour: Colour


def test_dataclasses_and_enums_hash_by_content() -> None:
    assert fingerprint(Config(0.1, Colour.RED)) == fingerprint(Config(0.1, Colour.RED))
    assert fingerprint(Config(0.1, Colour.RED)) != fingerprint(Config(0.2, Colour.RED))


class Opaque:
    pass


def test_an_unknown_type_is_unhashable_with_a_hint_and_registration_fixes_it() -> None:
    with pytest.raises(Unhashable, match="cannot fingerprint a .*Opaque.*register"):
        fingerprint(Opaque())

    class Known:
        def __init__(self, v: int) -> None:
            self.v = v

    @fingerprint.register(Known)
    def _(value: Known) -> str:
        return fingerprint(("Known", value.v))

    assert fingerprint(Known(3)) == fingerprint(Known(3)) != fingerprint(Known(4))


def _module(tmp_path: Path, name: str, source: str) -> object:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return load_pipeline(f"{path}:p")


HEADER = """
import numpy as np
import runyard.pipelines as ry

SCALE = {scale}

def helper(x):
    return x * SCALE{helper_extra}

@ry.step
def work(x: int) -> float:
    {doc}
    return float(np.sum(helper(x))){comment}

@ry.pipeline
def p(x: int = 1):
    return work(x)
"""


def _code(tmp_path: Path, name: str, **kw: str) -> tuple[str, dict[str, str]]:
    fields = {"scale": "2", "helper_extra": "", "doc": "", "comment": ""} | kw
    pipe = _module(tmp_path, name, HEADER.format(**fields))
    fp = code_fingerprint(pipe.graph().nodes[0].step.fn)  # type: ignore[attr-defined]
    return fp.digest, dict(fp.packages)


def test_comments_docstrings_and_formatting_do_not_change_the_code_fingerprint(
    tmp_path: Path,
) -> None:
    base, packages = _code(tmp_path, "fp_base")
    cosmetic, _ = _code(tmp_path, "fp_cosmetic", doc='"""Sum it."""', comment="  # why not")
    assert base == cosmetic
    assert "numpy" in packages and "python" in packages


def test_a_change_in_a_called_helper_or_a_constant_changes_the_fingerprint(
    tmp_path: Path,
) -> None:
    base, _ = _code(tmp_path, "fp_base2")
    assert _code(tmp_path, "fp_helper", helper_extra=" + 1")[0] != base
    assert _code(tmp_path, "fp_const", scale="3")[0] != base


def test_cache_keys_ignore_display_text_and_name_what_changed() -> None:
    a = KeyComponents(
        "train", "c1", {"data": "d1"}, {"lr": "f1"}, {"numpy": "2.0"}, shown={"lr": "0.1"}
    )
    same = dataclasses.replace(a, shown={"lr": "0.10"})
    assert cache_key(a) == cache_key(same)
    b = KeyComponents(
        "train", "c2", {"data": "d2"}, {"lr": "f2"}, {"numpy": "2.1"}, shown={"lr": "0.2"}
    )
    described = [c.describe() for c in diff_components(a, b)]
    assert described[0] == "the step's code changed (or something it calls)"
    assert "input 'data' has different content" in described[1]
    assert described[2] == "param 'lr' changed: 0.1 -> 0.2"
    assert described[3] == "package 'numpy' changed: 2.0 -> 2.1"
    assert KeyComponents.from_json(b.to_json()) == b


def test_cache_keys_written_by_earlier_versions_still_match() -> None:
    # A key that changes for the same components would turn every stored entry into a miss.
    parts = KeyComponents(
        step="train",
        code="c1",
        inputs={"data": "ab", "b": "cd"},
        params={"lr": "f1"},
        packages={"numpy": "2.0", "python": "3.11"},
        shown={"lr": "0.1"},
    )
    assert cache_key(parts) == "7c64975a5a7ab304a2d2049ed709851a4fbd23505f09f152f6ef40a7e0cdaba0"


def test_a_calls_key_is_the_key_of_its_components() -> None:
    import runyard.pipelines as ry
    from runyard.pipelines._inputs import NodeOutput, calls_for
    from runyard.pipelines._keys import call_key, key_components

    @ry.step(version="2")
    def scale(data: list[int], k: float) -> list[float]:
        return [x * k for x in data]

    @ry.pipeline
    def p(k: float = 0.5):
        return scale.map(data=ry.unmapped(scale([1, 2], k)), k=[k, 2.0])

    graph = p.graph()
    first, mapped = graph.nodes
    outputs = {first.node_id: NodeOutput([0.5, 1.0], "ef" * 32)}
    for node, done in ((first, {}), (mapped, outputs)):
        for call in calls_for(node, {"k": 0.5}, done):
            components, _ = key_components(call)
            assert components is not None
            assert call_key(call) == (cache_key(components), None)
