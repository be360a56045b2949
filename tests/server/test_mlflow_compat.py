"""The stock `mlflow` client, pointed at a real `runyard server` process, works unchanged."""

from __future__ import annotations

import math
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from runyard.entities import Metric
from runyard.tracking.store import get_store


@pytest.fixture
def server(spawn_server, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    srv = spawn_server()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", srv.url)
    mlflow.set_tracking_uri(srv.url)
    yield srv
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]


def test_experiments_runs_metrics_params_tags_and_search(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client = MlflowClient()
    assert mlflow.get_experiment_by_name("never-made") is None  # RESOURCE_DOES_NOT_EXIST
    exp = mlflow.set_experiment("compat")
    assert exp.artifact_location.startswith("mlflow-artifacts:/")
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_param("lr", 0.1)
        mlflow.log_params({"opt": "adam", "layers": 3})
        mlflow.log_metric("acc", 0.5, step=0)
        mlflow.log_metric("acc", math.nan, step=1)
        mlflow.log_metrics({"acc": 0.9, "loss": 0.1}, step=2)
        mlflow.set_tag("team", "vision")
    with mlflow.start_run(run_name="second"):
        mlflow.log_param("lr", 0.01)
        mlflow.log_metric("acc", 0.7)
    got = client.get_run(run.info.run_id)
    assert (got.info.run_name, got.info.status) == ("first", "FINISHED")
    assert got.data.params == {"lr": "0.1", "opt": "adam", "layers": "3"}
    assert got.data.metrics == {"acc": 0.9, "loss": 0.1}
    assert got.data.tags["team"] == "vision"
    history = client.get_metric_history(run.info.run_id, "acc")
    assert [m.step for m in history] == [0, 1, 2] and math.isnan(history[1].value)
    ordered = client.search_runs([exp.experiment_id], order_by=["metrics.acc DESC"])
    assert [r.info.run_name for r in ordered] == ["first", "second"]
    found = mlflow.search_runs([exp.experiment_id], filter_string="params.lr = '0.01'")
    assert list(found["tags.mlflow.runName"]) == ["second"]
    page = client.search_runs([exp.experiment_id], max_results=1)
    rest = client.search_runs([exp.experiment_id], max_results=1, page_token=page.token)
    assert {page[0].info.run_name, rest[0].info.run_name} == {"first", "second"}
    with pytest.raises(MlflowException) as info:
        client.search_runs([exp.experiment_id], filter_string="metrics.acc >")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as info:
        client.get_run("0" * 32)
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as info:
        client.log_param(run.info.run_id, "lr", "0.5")  # params are immutable
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    client.delete_run(run.info.run_id)
    assert [r.info.run_name for r in client.search_runs([exp.experiment_id])] == ["second"]


def test_artifacts_go_through_the_proxy(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    mlflow.set_experiment("files")
    local = tmp_path / "report.txt"
    local.write_text("accuracy 0.9")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(local))
        mlflow.log_artifact(str(local), artifact_path="eval/v1")
    client = MlflowClient()
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["eval", "report.txt"]
    assert [a.path for a in client.list_artifacts(run.info.run_id, "eval")] == ["eval/v1"]
    out = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="eval/v1/report.txt", dst_path=str(tmp_path / "d")
    )
    assert Path(out).read_text() == "accuracy 0.9"
    # the bytes live in the server's artifact store, under the run's folder
    stored = list((Path(server.args[server.args.index("--artifact-uri") + 1])).rglob("report.txt"))
    assert len(stored) == 2


def test_runs_are_shared_with_the_native_client(server) -> None:  # type: ignore[no-untyped-def]
    exp = mlflow.set_experiment("shared")
    with mlflow.start_run(run_name="from-mlflow") as run:
        mlflow.log_metric("loss", 0.25, step=3)
    native = get_store(server.url)
    seen = native.get_run(run.info.run_id)
    assert (seen.name, seen.metrics["loss"].latest, seen.metrics["loss"].latest_step) == (
        "from-mlflow", 0.25, 3,
    )  # fmt: skip
    mine = native.create_run(exp.experiment_id, name="from-runyard")
    native.log_batch(mine.run_id, [Metric("loss", 0.5, 1, 7)], params={"lr": "0.3"})
    got = MlflowClient().get_run(mine.run_id)
    assert (got.info.run_name, got.data.metrics["loss"], got.data.params) == (
        "from-runyard", 0.5, {"lr": "0.3"},
    )  # fmt: skip
    native.close()


def test_model_registry(server) -> None:  # type: ignore[no-untyped-def]
    client = MlflowClient()
    mlflow.set_experiment("models")
    with mlflow.start_run() as run:
        pass
    client.create_registered_model("digits", tags={"task": "cls"}, description="mlp")
    with pytest.raises(MlflowException) as info:
        client.create_registered_model("digits")
    assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"
    v1 = client.create_model_version("digits", f"runs:/{run.info.run_id}/model", run.info.run_id)
    v2 = client.create_model_version("digits", f"runs:/{run.info.run_id}/model2")
    assert (v1.version, v2.version) == ("1", "2")
    client.set_registered_model_alias("digits", "champion", "1")
    assert client.get_model_version_by_alias("digits", "champion").version == "1"
    client.set_registered_model_alias("digits", "champion", "2")  # an alias moves
    assert client.get_registered_model("digits").aliases == {"champion": "2"}
    client.set_model_version_tag("digits", "1", "validated", "yes")
    assert client.get_model_version("digits", "1").tags == {"validated": "yes"}
    versions = client.search_model_versions(f"run_id = '{run.info.run_id}'")
    assert [v.version for v in versions] == ["1"]
    assert [m.name for m in client.search_registered_models()] == ["digits"]
    client.rename_registered_model("digits", "digits-mlp")
    assert client.get_model_version("digits-mlp", "2").source.endswith("model2")
    client.delete_registered_model_alias("digits-mlp", "champion")
    client.delete_model_version("digits-mlp", "1")
    with pytest.raises(MlflowException) as info:
        client.get_model_version("digits-mlp", "1")
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    client.delete_registered_model("digits-mlp")
    assert client.search_registered_models() == []
