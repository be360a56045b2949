"""Pipelines: typed ``@step`` functions wired in a ``@pipeline``, cached and tracked.

Example:
    >>> import runyard as ry
    >>> @ry.step
    ... def square(x: int) -> int:
    ...     return x * x
    >>> @ry.step
    ... def total(xs: list[int]) -> int:
    ...     return sum(xs)
    >>> @ry.pipeline
    ... def squares(xs: list[int] = [1, 2, 3]):
    ...     return total(square.map(x=xs))
    >>> squares.run(store="sqlite:////tmp/ry-doc.db", artifacts="/tmp/ry-doc").value
    14
"""

from runyard.pipelines.graph import Graph
from runyard.pipelines.pipeline import Pipeline, pipeline
from runyard.pipelines.records import (
    CacheUse,
    PipelineFailed,
    PipelineResult,
    StepEvent,
    StepRecord,
    StepStatus,
)
from runyard.pipelines.step import Step, StepOptions, Unmapped, step, unmapped

__all__ = [
    "CacheUse",
    "Graph",
    "Pipeline",
    "PipelineFailed",
    "PipelineResult",
    "Step",
    "StepEvent",
    "StepOptions",
    "StepRecord",
    "StepStatus",
    "Unmapped",
    "pipeline",
    "step",
    "unmapped",
]
