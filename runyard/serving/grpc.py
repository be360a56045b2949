"""The Open Inference Protocol over gRPC: ``inference.GRPCInferenceService``.

Implements ServerLive, ServerReady, ModelReady, ServerMetadata, ModelMetadata and ModelInfer
(``raw_input_contents`` and typed ``contents``; answers carry ``raw_output_contents``). The
message classes and service glue are the generated modules shipped by ``tritonclient[grpc]``,
a wire-compatible superset of the protocol's definition. Unknown model or version →
NOT_FOUND; bad input → INVALID_ARGUMENT; the model failing → INTERNAL.
"""

from __future__ import annotations

import time
from typing import Any

import grpc

from runyard.errors import InvalidArgument, MissingDependency, NotFound
from runyard.serving.codec import InputTensor, decode_raw_input, encode_raw_output
from runyard.serving.protocol import Inference, model_metadata, server_metadata

__all__ = ["create_grpc_server", "load_stubs"]

_TYPED = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}


def load_stubs() -> tuple[Any, Any]:
    """(service_pb2, service_pb2_grpc) from tritonclient, or MissingDependency."""
    try:
        from tritonclient.grpc import (
            service_pb2,
            service_pb2_grpc,
        )
    except ImportError as e:
        raise MissingDependency("tritonclient[grpc]", "serving") from e
    return service_pb2, service_pb2_grpc


def _code(error: BaseException) -> grpc.StatusCode:
    if isinstance(error, NotFound):
        return grpc.StatusCode.NOT_FOUND
    if isinstance(error, InvalidArgument):
        return grpc.StatusCode.INVALID_ARGUMENT
    return grpc.StatusCode.INTERNAL


def _tensor(t: Any, raw: bytes | None) -> InputTensor:
    if raw is not None:
        return decode_raw_input(t.name, t.datatype, list(t.shape), raw)
    import numpy as np

    from runyard.registry.signature import numpy_dtype

    field = _TYPED.get(t.datatype)
    if field is None:
        raise InvalidArgument(f"input {t.name!r}: {t.datatype} needs raw_input_contents")
    values = list(getattr(t.contents, field))
    dtype = numpy_dtype(t.datatype)
    arr = np.array(values, dtype=dtype)
    shape = tuple(int(d) for d in t.shape)
    count = int(np.prod(shape)) if shape else 1
    if arr.size != count:
        raise InvalidArgument(
            f"input {t.name!r}: shape {list(shape)} needs {count} values, got {arr.size}"
        )
    return InputTensor(t.name, t.datatype, shape, arr.reshape(shape))


def _servicer(inference: Inference, pb: Any, pb_grpc: Any) -> Any:
    pool = inference.pool

    class Servicer(pb_grpc.GRPCInferenceServiceServicer):  # type: ignore[misc]
        async def ServerLive(self, request: Any, context: Any) -> Any:  # noqa: N802
            return pb.ServerLiveResponse(live=True)

        async def ServerReady(self, request: Any, context: Any) -> Any:  # noqa: N802
            return pb.ServerReadyResponse(ready=pool.ready)

        async def ModelReady(self, request: Any, context: Any) -> Any:  # noqa: N802
            try:
                pool.get(request.name, request.version or None)
            except NotFound:
                return pb.ModelReadyResponse(ready=False)
            return pb.ModelReadyResponse(ready=True)

        async def ServerMetadata(self, request: Any, context: Any) -> Any:  # noqa: N802
            return pb.ServerMetadataResponse(**server_metadata())

        async def ModelMetadata(self, request: Any, context: Any) -> Any:  # noqa: N802
            try:
                meta = model_metadata(pool.get(request.name, request.version or None))
            except NotFound as e:
                await context.abort(grpc.StatusCode.NOT_FOUND, str(e))
            return pb.ModelMetadataResponse(
                name=meta["name"],
                versions=meta["versions"],
                platform=meta["platform"],
                inputs=[pb.ModelMetadataResponse.TensorMetadata(**t) for t in meta["inputs"]],
                outputs=[pb.ModelMetadataResponse.TensorMetadata(**t) for t in meta["outputs"]],
            )

        async def ModelInfer(self, request: Any, context: Any) -> Any:  # noqa: N802
            started = time.perf_counter()
            error: BaseException | None = None
            name = request.model_name
            try:
                raws = list(request.raw_input_contents)
                if raws and len(raws) != len(request.inputs):
                    raise InvalidArgument(
                        f"{len(raws)} raw_input_contents for {len(request.inputs)} inputs"
                    )
                tensors = [
                    _tensor(t, raws[i] if raws else None) for i, t in enumerate(request.inputs)
                ]
                requested = [o.name for o in request.outputs]
                served, out = await inference.run(
                    name, request.model_version or None, tensors, requested
                )
                response = pb.ModelInferResponse(
                    model_name=served.name, model_version=served.version, id=request.id
                )
                for key, arr in out.items():
                    datatype, shape, raw = encode_raw_output(arr)
                    response.outputs.add(name=key, datatype=datatype, shape=shape)
                    response.raw_output_contents.append(raw)
                return response
            except Exception as e:  # noqa: BLE001 - every failure becomes a status
                error = e
                await context.abort(_code(e), str(e) or type(e).__name__)
            finally:
                inference.record(name, "grpc", error, started)

    return Servicer()


def create_grpc_server(inference: Inference, host: str, port: int) -> grpc.aio.Server:
    """A started-on-``start()`` grpc.aio server bound to ``host:port``.

    Example:
        >>> server = create_grpc_server(inference, "127.0.0.1", 8001)  # doctest: +SKIP
        >>> await server.start()  # doctest: +SKIP
    """
    pb, pb_grpc = load_stubs()
    limit = inference.limits.max_request_bytes
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", 256 * 1024 * 1024),
            ("grpc.so_reuseport", 0),
        ]
    )
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(_servicer(inference, pb, pb_grpc), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise InvalidArgument(f"cannot listen for gRPC on {host}:{port}")
    return server
