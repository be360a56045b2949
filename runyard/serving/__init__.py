"""Serving: the Open Inference Protocol over HTTP and gRPC, batched, hot-reloaded.

Example:
    >>> from runyard.serving import ServeConfig, serve
    >>> serve(ServeConfig(["models:/digits-mlp@champion"], http_port=8000))  # doctest: +SKIP
"""

from runyard.serving.batching import BatchConfig, DynamicBatcher
from runyard.serving.model_pool import ModelPool, ModelSpec
from runyard.serving.protocol import ServingLimits
from runyard.serving.server import ServeConfig, serve

__all__ = [
    "BatchConfig",
    "DynamicBatcher",
    "ModelPool",
    "ModelSpec",
    "ServeConfig",
    "ServingLimits",
    "serve",
]
