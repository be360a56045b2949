"""Fan-out and fan-in with .map(), as a user writes them."""

from typing import Any

import pytest

import runyard.pipelines as ry
from runyard.pipelines import PipelineFailed, StepStatus


@ry.step
def make(n: int) -> list[int]:
    return list(range(n))


@ry.step
def scale(x: int, by: int) -> int:
    return x * by


@ry.step
def total(xs: list[int]) -> int:
    return sum(xs)


@ry.step
def length(xs: list[int], tag: str) -> str:
    return f"{tag}:{len(xs)}"


def test_fan_out_over_a_param_list_with_other_args_whole(where: dict[str, Any]) -> None:
    @ry.pipeline
    def p(bys: list[int] = [1, 10, 100]):  # noqa: B006
        return scale.map(x=2, by=bys)

    result = p.run(**where)
    assert result.value == [2, 20, 200]
    assert [s.index for s in result.step("scale")] == [0, 1, 2]


def test_fan_out_over_a_step_output_then_fan_in(where: dict[str, Any]) -> None:
    @ry.pipeline
    def p(n: int = 4):
        return total(scale.map(x=make(n), by=3))

    assert p.run(n=4, **where).value == 3 * (0 + 1 + 2 + 3)


def test_several_lists_are_zipped(where: dict[str, Any]) -> None:
    @ry.pipeline
    def p(xs: list[int] = [1, 2], bys: list[int] = [10, 20]):  # noqa: B006
        return scale.map(x=xs, by=bys)

    assert p.run(**where).value == [10, 40]


def test_unmapped_passes_a_list_output_whole(where: dict[str, Any]) -> None:
    @ry.pipeline
    def p(n: int = 3, tags: list[str] = ["a", "b"]):  # noqa: B006
        return length.map(xs=ry.unmapped(make(n)), tag=tags)

    assert p.run(**where).value == ["a:3", "b:3"]


def test_a_literal_list_of_outputs_is_a_fan_in(where: dict[str, Any]) -> None:
    @ry.pipeline
    def p(n: int = 2):
        return total([scale(n, 1), scale(n, 2)])

    assert p.run(**where).value == 6


def test_an_empty_list_fans_out_to_nothing(where: dict[str, Any]) -> None:
    @ry.pipeline
    def p(n: int = 0):
        return total(scale.map(x=make(n), by=2))

    result = p.run(**where)
    assert result.value == 0
    assert result.step("scale") == []


def test_a_map_over_outputs_of_unequal_length_fails_that_branch_clearly(
    where: dict[str, Any],
) -> None:
    @ry.pipeline
    def p(a: int = 2, b: int = 3):
        return scale.map(x=make(a), by=make(b))

    with pytest.raises(PipelineFailed, match="equally long: x has 2, by has 3") as info:
        p.run(**where)
    assert info.value.result.step("scale")[0].status is StepStatus.FAILED
