"""The graph a pipeline body builds, and the errors a user gets before anything runs."""

import json
from dataclasses import replace
from typing import Any

import pytest

import runyard.pipelines as ry
from runyard.errors import InvalidArgument
from runyard.pipelines.graph import Graph, NodeInput, PipelineParam, StepNode
from runyard.tracking.store import TrackingStore


@ry.step(retries=2, timeout="10m", cpus=1)
def load(n: int) -> dict[str, list[int]]:
    return {"x": list(range(n))}


@ry.step
def train(data: dict[str, list[int]], lr: float) -> float:
    return sum(data["x"]) * lr


@ry.step
def best(models: list[float]) -> float:
    return max(models)


@ry.pipeline
def digits(n: int = 1000, lrs: list[float] = [0.01, 0.1]):  # noqa: B006 - the issue's own example
    data = load(n)
    models = train.map(data=data, lr=lrs)
    return best(models)


def _no_runs(store: TrackingStore) -> bool:
    return store.get_experiment_by_name("digits") is None


def test_the_graph_names_steps_edges_and_fan_out() -> None:
    g = digits.graph()
    assert [n.node_id for n in g.nodes] == ["load", "train", "best"]
    assert g.node("train").mapped and not g.node("load").mapped
    drawn = json.loads(json.dumps(g.to_dict()))  # what the UI receives
    assert drawn["edges"] == [["load", "train"], ["train", "best"]]
    assert drawn["params"][0] == {"name": "n", "type": "int", "default": 1000, "required": False}
    assert drawn["nodes"][1]["inputs"] == {"data": {"node": "load"}, "lr": {"param": "lrs"}}
    assert json.loads(g.to_json()) == drawn  # what every run stores as runyard/graph.json


def test_what_is_worked_out_once_per_graph_cannot_be_changed_by_a_caller() -> None:
    g = digits.graph()
    order = g.topological_order()
    order.reverse()  # the caller's own list
    assert [n.node_id for n in g.topological_order()] == ["load", "train", "best"]
    assert dict(g.upstream_of()) == {"load": (), "train": ("load",), "best": ("train",)}
    assert g == replace(g)  # equal to a copy that has worked out nothing yet


def test_step_options_are_parsed() -> None:
    assert load.options.retries == 2
    assert load.options.timeout == 600.0
    assert load.options.resources.cpus == 1


def test_steps_called_outside_a_pipeline_are_plain_functions() -> None:
    assert train({"x": [1, 2]}, 0.5) == 1.5
    assert train.map(data={"x": [1]}, lr=[1.0, 2.0]) == [1.0, 2.0]
    assert digits(n=3, lrs=[1.0]) == 3.0  # the body, run as plain Python


def test_a_missing_input_is_named() -> None:
    @ry.pipeline
    def broken(n: int = 1):
        return train(load(n))

    with pytest.raises(InvalidArgument, match="missing a required argument: 'lr'"):
        broken.graph()


def test_a_mistyped_input_is_named_with_both_types() -> None:
    @ry.pipeline
    def mistyped(n: int = 1):
        data = load(n)
        return train(data=data, lr=data)

    with pytest.raises(InvalidArgument, match=r"train\(\) input 'lr' expects float.*step 'load'"):
        mistyped.graph()


def test_a_list_param_into_a_scalar_input_of_a_plain_call_is_refused() -> None:
    @ry.pipeline
    def wrong(lrs: list[float] = [0.1]):  # noqa: B006
        return train(data={"x": [1]}, lr=lrs)

    with pytest.raises(InvalidArgument, match="expects float"):
        wrong.graph()


def test_unknown_params_are_refused_before_anything_runs(
    where: dict[str, Any], store: TrackingStore
) -> None:
    with pytest.raises(InvalidArgument, match="no parameter 'm'.*it takes: n, lrs"):
        digits.run(m=5, **where)
    assert _no_runs(store)


def test_a_param_of_the_wrong_type_is_refused(where: dict[str, Any], store: TrackingStore) -> None:
    with pytest.raises(InvalidArgument, match="parameter 'n' expects int, got str"):
        digits.run(n="many", **where)
    assert _no_runs(store)


def test_a_required_param_must_be_given(where: dict[str, Any]) -> None:
    @ry.pipeline
    def needs(n: int):
        return load(n)

    with pytest.raises(InvalidArgument, match="needs parameter 'n'"):
        needs.run(**where)


def test_unequal_known_map_lists_fail_before_anything_runs(
    where: dict[str, Any], store: TrackingStore
) -> None:
    with pytest.raises(InvalidArgument, match="equally long: a has 2, b has 3"):
        _zip_pipeline.run(**where)
    assert store.get_experiment_by_name("zipped") is None


@ry.step
def add(a: int, b: int) -> int:
    return a + b


@ry.pipeline(name="zipped")
def _zip_pipeline(a: list[int] = [1, 2], b: list[int] = [1, 2, 3]):  # noqa: B006
    return add.map(a=a, b=b)


def test_branching_on_a_step_output_is_explained() -> None:
    @ry.pipeline
    def branchy(n: int = 1):
        data = load(n)
        if data:
            return train(data, 0.1)
        return None

    with pytest.raises(InvalidArgument, match="cannot be tested with if"):
        branchy.graph()


def test_a_cycle_is_reported_with_its_path() -> None:
    node_a = StepNode("a", add, {"a": NodeInput("b"), "b": NodeInput("b")})
    node_b = StepNode("b", add, {"a": NodeInput("a"), "b": NodeInput("a")})
    g = Graph("loop", (PipelineParam("x", int, 0, True),), (node_a, node_b), NodeInput("b"))
    with pytest.raises(InvalidArgument, match="cycle: a -> b -> a"):
        g.validate()


def test_steps_with_star_args_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="named parameters only"):

        @ry.step
        def variadic(*xs: int) -> int:
            return sum(xs)


def test_a_param_named_like_a_run_option_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="clashes with a run\\(\\) option"):

        @ry.pipeline
        def clash(executor: str = "x"):
            return None


def test_bad_step_options_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="timeout must be a duration"):
        ry.step(timeout="soon")
    with pytest.raises(InvalidArgument, match="retries"):
        ry.step(retries=-1)


def test_repeated_calls_get_distinct_node_ids() -> None:
    @ry.pipeline
    def twice(n: int = 1):
        return add(add(n, 1), 1)

    assert [n.node_id for n in twice.graph().nodes] == ["add", "add-2"]
