"""The ONNX flavor: run by onnxruntime; exported from PyTorch with a numerical parity check.

Give it an ``onnx.ModelProto``, the bytes or path of a ``.onnx`` file, or a
``torch.nn.Module`` with ``flavor="onnx"``: the module is exported (batch dimension dynamic),
and the exported graph is run by onnxruntime on the input example and compared with the
module's own output. A difference beyond ``rtol``/``atol`` refuses the export with the
largest error in the message, so a model that would serve different numbers never leaves
the lab.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from runyard.errors import InvalidArgument, MissingDependency
from runyard.registry.flavors.base import (
    Flavor,
    LoadedModel,
    SavedModel,
    Tensors,
    module_prefixes,
)
from runyard.registry.flavors.pytorch import import_torch, name_outputs, torch_inputs
from runyard.registry.signature import Signature, TensorSpec, infer_signature

__all__ = ["OnnxFlavor", "parity_error"]

_ORT_TYPES = {
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(float16)": "FP16",
    "tensor(int64)": "INT64",
    "tensor(int32)": "INT32",
    "tensor(int16)": "INT16",
    "tensor(int8)": "INT8",
    "tensor(uint8)": "UINT8",
    "tensor(bool)": "BOOL",
    "tensor(string)": "BYTES",
}


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError as e:
        raise MissingDependency("onnxruntime", "onnx") from e
    return onnxruntime


def _session(model_bytes: bytes, threads: int) -> Any:
    ort = _ort()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
        raise InvalidArgument(f"onnxruntime cannot load the model: {e}") from e


def _signature_of(session: Any) -> Signature:
    def spec(arg: Any) -> TensorSpec:
        dtype = _ORT_TYPES.get(arg.type)
        if dtype is None:
            raise InvalidArgument(f"ONNX tensor {arg.name!r} has unsupported type {arg.type}")
        return TensorSpec(
            arg.name, dtype, tuple(d if isinstance(d, int) else -1 for d in arg.shape)
        )

    return Signature(
        tuple(spec(a) for a in session.get_inputs()), tuple(spec(a) for a in session.get_outputs())
    )


def parity_error(expected: Tensors, got: Tensors, rtol: float, atol: float) -> float:
    """Largest ``|got - expected| - rtol * |expected|`` over every output; <= atol is parity."""
    worst = 0.0
    for name, want in expected.items():
        have = np.asarray(got[name])
        if have.shape != want.shape:
            raise InvalidArgument(
                f"ONNX output {name!r} has shape {have.shape}, the source model {want.shape}"
            )
        excess = np.abs(have.astype(np.float64) - want) - rtol * np.abs(want.astype(np.float64))
        worst = max(worst, float(np.max(excess, initial=0.0)))
    return worst


class OnnxFlavor(Flavor):
    """ONNX models run by onnxruntime.

    Options (``log_model(..., onnx_opset=…)``): ``opset`` (default 17), ``rtol``
    (1e-4) and ``atol`` (1e-5) of the parity check, ``exporter`` (``torchscript`` default,
    or ``dynamo``), ``threads`` (onnxruntime intra-op threads at load, default 1).

    Example:
        >>> from runyard.registry.flavors import get_flavor
        >>> get_flavor("onnx").name
        'onnx'
    """

    name = "onnx"

    def detects(self, model: object) -> bool:
        """True for an ``onnx.ModelProto``."""
        return "onnx" in module_prefixes(model) and type(model).__name__ == "ModelProto"

    def save(
        self,
        model: Any,
        path: Path,
        *,
        input_example: Any = None,
        signature: Signature | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> SavedModel:
        """Write ``model.onnx``; a torch module is exported and checked for parity first."""
        opts = dict(options or {})
        path.mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {"onnxruntime_version": str(_ort().__version__)}
        if "torch" in module_prefixes(model):
            data, parity = self._export_torch(model, input_example, opts)
            meta.update(parity)
        elif isinstance(model, bytes):
            data = model
        elif isinstance(model, str | os.PathLike):
            data = Path(model).read_bytes()
        elif self.detects(model):
            data = model.SerializeToString()
        else:
            raise InvalidArgument(
                f"the onnx flavor takes a torch module, ModelProto, bytes or a path; "
                f"got {type(model).__name__}"
            )
        session = _session(data, 1)
        (path / "model.onnx").write_bytes(data)
        return SavedModel(signature or _signature_of(session), meta)

    def _export_torch(
        self, model: Any, input_example: Any, opts: Mapping[str, Any]
    ) -> tuple[bytes, dict[str, Any]]:
        torch = import_torch()
        inputs = torch_inputs(input_example)
        names = list(inputs)
        model.eval()
        args = tuple(torch.from_numpy(np.ascontiguousarray(inputs[n])) for n in names)
        with torch.inference_mode():
            expected = name_outputs(model(*args))
        out_names = list(expected)
        exporter = str(opts.get("exporter", "torchscript"))
        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # exporter deprecation chatter from inside torch
            try:
                if exporter == "dynamo":
                    batch = torch.export.Dim("batch", min=1)
                    program = torch.onnx.export(
                        model,
                        args,
                        input_names=names,
                        output_names=out_names,
                        dynamic_shapes=tuple({0: batch} for _ in args),
                        opset_version=int(opts.get("opset", 18)),
                        dynamo=True,
                        verbose=False,
                    )
                    buf.write(program.model_proto.SerializeToString())
                else:
                    torch.onnx.export(
                        model,
                        args,
                        buf,
                        input_names=names,
                        output_names=out_names,
                        dynamic_axes={n: {0: "batch"} for n in [*names, *out_names]},
                        opset_version=int(opts.get("opset", 17)),
                        dynamo=False,
                    )
            except InvalidArgument:
                raise
            except Exception as e:  # torch raises many types; all mean "cannot export"
                raise InvalidArgument(f"torch could not export the model to ONNX: {e}") from e
        data = buf.getvalue()
        session = _session(data, 1)
        got = dict(zip(out_names, session.run(out_names, inputs), strict=True))
        rtol, atol = float(opts.get("rtol", 1e-4)), float(opts.get("atol", 1e-5))
        err = parity_error(expected, got, rtol, atol)
        if err > atol:
            raise InvalidArgument(
                f"the ONNX export differs from the torch model: max error {err:.3g} "
                f"exceeds atol={atol} (rtol={rtol}); not saved"
            )
        infer_signature(inputs, expected)  # validates the example's datatypes
        return data, {
            "parity_max_error": err,
            "parity_rtol": rtol,
            "parity_atol": atol,
            "exported_from": "torch",
            "exporter": exporter,
        }

    def load(self, path: Path, saved: SavedModel) -> LoadedModel:
        """Open an onnxruntime session on ``model.onnx``."""
        threads = int(os.environ.get("RUNYARD_ORT_THREADS", "1"))
        return _LoadedOnnx(saved.signature, _session((path / "model.onnx").read_bytes(), threads))


class _LoadedOnnx(LoadedModel):
    def __init__(self, signature: Signature, session: Any) -> None:
        super().__init__(signature)
        self._session = session
        self._outputs = [t.name for t in signature.outputs]

    def predict(self, inputs: Tensors) -> dict[str, np.ndarray[Any, Any]]:
        values = self._session.run(self._outputs, dict(inputs))
        return dict(zip(self._outputs, values, strict=True))
