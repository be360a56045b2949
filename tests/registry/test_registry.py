"""The registry story: log a model on a run, register versions, aliases, gates, URIs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from runyard.errors import InvalidArgument, InvalidFilter, NotFound
from runyard.evaluation import evaluate
from runyard.registry import (
    GateRefused,
    get_manifest,
    list_models,
    list_versions,
    load_model,
    log_model,
    model_lineage,
    register_model,
    resolve_model,
    set_alias,
)
from runyard.tracking.client import Client, start_run

pytestmark = pytest.mark.usefixtures("tracking_store")


def _train_and_log(net: Any, digits: Any, *, noise: float = 0.0, flavor: str = "onnx") -> str:
    """One training run: params, a dataset input, the model, and its stored evaluation."""
    x, y = digits
    with start_run(experiment="digits", params={"hidden": 32}, synchronous=True) as run:
        run.log_lineage(inputs={"sklearn-digits": "dataset"})
        info = log_model(run, net, "model", flavor=flavor, input_example=x[:8])
        pred = load_model(info.uri).predict({"input": x})["output"].argmax(1)
        if noise:
            flip = np.random.default_rng(0).random(len(y)) < noise
            pred = np.where(flip, (pred + 1) % 10, pred)
        table = pa.table({"label": y, "prediction": pred})
        evaluate(
            table,
            label="label",
            prediction="prediction",
            metrics=["accuracy"],
            bootstrap=0,
            run=run,
        )
        return run.run_id


def test_register_versions_aliases_and_uris(torch_mlp: Any, digits: Any) -> None:
    x, _ = digits
    run_a = _train_and_log(torch_mlp, digits)
    run_b = _train_and_log(torch_mlp, digits, flavor="torch")
    v1 = register_model("digits-mlp", run=run_a, artifact="model", tags={"team": "vision"})
    v2 = register_model("digits-mlp", run=run_b, artifact="model")
    assert (v1.version, v2.version) == (1, 2)
    assert v1.tags["runyard.flavor"] == "onnx" and v1.tags["team"] == "vision"
    assert v2.source == f"runs:/{run_b}/model"

    set_alias("digits-mlp", "champion", version=1)
    assert resolve_model("models:/digits-mlp@champion").version == 1
    assert resolve_model("models:/digits-mlp/2").run_id == run_b
    assert resolve_model("models:/digits-mlp").version == 2  # latest
    assert resolve_model("models:/digits-mlp/latest").version == 2

    champion = load_model("models:/digits-mlp@champion")
    assert champion.signature.inputs[0].shape == (-1, 64)
    assert champion.predict({"input": x[:5]})["output"].shape == (5, 10)
    assert get_manifest("models:/digits-mlp/2").flavor == "torch"

    set_alias("digits-mlp", "champion", version=2)  # moving an alias
    assert resolve_model("models:/digits-mlp@champion").version == 2
    assert [m.name for m in list_models()] == ["digits-mlp"]
    assert [v.version for v in list_versions("digits-mlp")] == [2, 1]


def test_lineage_reaches_the_run_params_data_and_eval(torch_mlp: Any, digits: Any) -> None:
    run_id = _train_and_log(torch_mlp, digits)
    mv = register_model("digits-mlp", run=run_id)
    lineage = model_lineage("digits-mlp", mv.version)
    assert lineage["run_id"] == run_id
    assert lineage["params"] == {"hidden": "32"}
    assert {"kind": "dataset", "id": "sklearn-digits", "relation": "input"} in lineage["inputs"]
    assert lineage["eval"]["eval/overall/accuracy"] > 0.9
    edges = Client().get_lineage(f"models:/digits-mlp/{mv.version}", "upstream")
    assert [(e.source_id, e.relation) for e in edges] == [(run_id, "registered")]


def test_gate_refuses_a_version_whose_eval_fails_and_says_why(torch_mlp: Any, digits: Any) -> None:
    good = register_model("digits-mlp", run=_train_and_log(torch_mlp, digits))
    bad = register_model("digits-mlp", run=_train_and_log(torch_mlp, digits, noise=0.5))
    set_alias("digits-mlp", "champion", version=good.version, gate="accuracy >= 0.9")
    with pytest.raises(GateRefused) as err:
        set_alias("digits-mlp", "champion", version=bad.version, gate=["accuracy >= 0.9"])
    assert "FAIL accuracy >= 0.9" in str(err.value)
    assert any("FAIL" in r for r in err.value.reasons)
    # the alias did not move, and the passing verdict is kept on the good version
    assert resolve_model("models:/digits-mlp@champion").version == good.version
    assert (
        '"passed": true'
        in resolve_model("models:/digits-mlp@champion").tags["runyard.gate.champion"]
    )
    with pytest.raises(InvalidFilter):
        set_alias("digits-mlp", "champion", version=good.version, gate="accuracy >=")


def test_gate_refuses_a_version_without_an_evaluation(torch_mlp: Any, digits: Any) -> None:
    x, _ = digits
    with start_run(experiment="digits") as run:
        log_model(run, torch_mlp, "model", flavor="onnx", input_example=x[:8])
    mv = register_model("digits-mlp", run=run)
    with pytest.raises(GateRefused, match="no stored evaluation"):
        set_alias("digits-mlp", "champion", version=mv.version, gate="accuracy >= 0.9")
    with pytest.raises(NotFound):
        resolve_model("models:/digits-mlp@champion")


def test_bad_references_get_clear_errors(torch_mlp: Any, digits: Any) -> None:
    with start_run(experiment="digits") as run:
        run.log_text("not a model", "notes.txt")
    with pytest.raises(NotFound, match="no model at 'model'"):
        register_model("digits-mlp", run=run, artifact="model")
    with pytest.raises(InvalidArgument, match="not a model URI"):
        resolve_model("digits-mlp@champion")
    with pytest.raises(NotFound):
        resolve_model("models:/nope@champion")
    mv = register_model("digits-mlp", run=_train_and_log(torch_mlp, digits))
    with pytest.raises(NotFound):
        resolve_model(f"models:/digits-mlp/{mv.version + 5}")
    with pytest.raises(NotFound):
        set_alias("digits-mlp", "champion", version=mv.version + 5)
