"""Each flavor saves a model with its signature and loads it back to the same predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from runyard.errors import InvalidArgument
from runyard.registry import load_saved_model, save_model
from runyard.registry.signature import TensorSpec
from tests.registry.pymodels import Centroids


def _torch_logits(net: Any, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    import torch

    with torch.inference_mode():
        return np.asarray(net(torch.from_numpy(x)).numpy())


@pytest.mark.parametrize("fmt", ["torch.export", "torchscript"])
def test_torch_flavor_round_trips_with_dynamic_batch(
    tmp_path: Path, torch_mlp: Any, digits: Any, fmt: str
) -> None:
    x, _ = digits
    manifest = save_model(torch_mlp, tmp_path / "m", input_example=x[:1], format=fmt)
    assert manifest.flavor == "torch"
    assert manifest.signature.inputs == (TensorSpec("input", "FP32", (-1, 64)),)
    assert manifest.signature.outputs == (TensorSpec("output", "FP32", (-1, 10)),)
    model = load_saved_model(tmp_path / "m")
    for n in (1, 7, 300):  # any batch size, not only the example's
        got = model.predict({"input": x[:n]})["output"]
        np.testing.assert_allclose(got, _torch_logits(torch_mlp, x[:n]), rtol=1e-5, atol=1e-6)


def test_onnx_export_from_torch_matches_and_records_parity(
    tmp_path: Path, torch_mlp: Any, digits: Any
) -> None:
    x, _ = digits
    manifest = save_model(torch_mlp, tmp_path / "m", "onnx", input_example=x[:16])
    assert manifest.flavor == "onnx"
    assert manifest.metadata["parity_max_error"] <= manifest.metadata["parity_atol"]
    assert [t.to_dict() for t in manifest.signature.inputs] == [
        {"name": "input", "datatype": "FP32", "shape": [-1, 64]}
    ]
    model = load_saved_model(tmp_path / "m")
    got = model.predict({"input": x[:100]})["output"]
    np.testing.assert_allclose(got, _torch_logits(torch_mlp, x[:100]), rtol=1e-4, atol=1e-5)


def test_onnx_export_refuses_a_model_that_does_not_match(tmp_path: Path, digits: Any) -> None:
    import torch

    class Jittery(torch.nn.Module):
        """Exports as a different graph than it runs: training-mode dropout."""

        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(64, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lin(x) + torch.rand_like(self.lin(x))

    x, _ = digits
    with pytest.raises(InvalidArgument, match="differs from the torch model"):
        save_model(Jittery(), tmp_path / "m", "onnx", input_example=x[:8])
    assert not (tmp_path / "m" / "model.onnx").exists()


def test_sklearn_flavor_declares_predictions_and_probabilities(
    tmp_path: Path, sk_model: Any, digits: Any
) -> None:
    x, _ = digits
    manifest = save_model(sk_model, tmp_path / "m")
    assert manifest.flavor == "sklearn"
    names = {t.name: t for t in manifest.signature.outputs}
    assert names["predictions"].datatype == "INT64"
    assert names["probabilities"].shape == (-1, 10)
    out = load_saved_model(tmp_path / "m").predict({"input": x[:50].astype(np.float64)})
    np.testing.assert_array_equal(out["predictions"], sk_model.predict(x[:50]))


def test_python_flavor_uses_the_class_save_load_predict(tmp_path: Path, digits: Any) -> None:
    x, y = digits
    model = Centroids(np.stack([x[y == k].mean(0) for k in range(10)]))
    manifest = save_model(model, tmp_path / "m", input_example=x[:4])
    assert manifest.flavor == "python"
    assert manifest.signature.outputs == (TensorSpec("label", "INT64", (-1,)),)
    out = load_saved_model(tmp_path / "m").predict({"input": x})
    assert (out["label"] == y).mean() > 0.85


def test_unknown_objects_and_flavors_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="cannot tell the flavor"):
        save_model(object(), tmp_path / "a")
    with pytest.raises(InvalidArgument, match="unknown flavor"):
        save_model(object(), tmp_path / "b", "keras")


def test_torch_needs_an_input_example(tmp_path: Path, torch_mlp: Any) -> None:
    with pytest.raises(InvalidArgument, match="input_example"):
        save_model(torch_mlp, tmp_path / "m")
