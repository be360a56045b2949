"""runyard: an ML experimentation platform in one install.

Tracking, pipelines, training, sweeps, evaluation, registry and serving.

Example:
    >>> import runyard as ry
    >>> with ry.start_run(experiment="digits", params={"lr": 0.1}) as run:  # doctest: +SKIP
    ...     run.log_metrics({"loss": 0.3, "acc": 0.91}, step=1)
"""

from typing import TYPE_CHECKING

from runyard.entities import (
    ArtifactRef,
    Experiment,
    LineageEdge,
    Metric,
    MetricSeries,
    MetricSummary,
    Page,
    RunStatus,
)
from runyard.errors import (
    AlreadyExists,
    InvalidArgument,
    InvalidFilter,
    NotFound,
    ParamConflict,
    RunyardError,
    StoreError,
    UnsafePath,
)
from runyard.tracking.client import Client, Run, active_run, start_run

if TYPE_CHECKING:  # type checkers see the real signatures of the lazy names below
    from runyard.evaluation import (
        Comparison,
        EvalResult,
        GateVerdict,
        bucket,
        compare,
        evaluate,
        gate,
        load_eval,
    )
    from runyard.pipelines import (
        Pipeline,
        PipelineFailed,
        PipelineResult,
        pipeline,
        step,
        unmapped,
    )
    from runyard.registry import (
        load_model,
        register_model,
        resolve_model,
        set_alias,
    )
    from runyard.sweeps import (
        Sweep,
        Trial,
        TrialPruned,
        choice,
        load_sweep,
        loguniform,
        qint,
        quniform,
        randint,
        sweep,
        uniform,
    )
    from runyard.training import (
        TrainContext,
        TrainResult,
        TrainState,
        load_checkpoint,
        train,
    )

__version__ = "0.1.0"

# Domain capabilities that need numpy, pyarrow, optuna or torch are re-exported lazily
# (PEP 562) so that `import runyard` stays light: name -> defining module. This table is
# the only thing here that is not a plain import.
_LAZY = {
    "evaluate": "runyard.evaluation",
    "compare": "runyard.evaluation",
    "gate": "runyard.evaluation",
    "bucket": "runyard.evaluation",
    "load_eval": "runyard.evaluation",
    "EvalResult": "runyard.evaluation",
    "Comparison": "runyard.evaluation",
    "GateVerdict": "runyard.evaluation",
    "step": "runyard.pipelines",
    "pipeline": "runyard.pipelines",
    "unmapped": "runyard.pipelines",
    "Pipeline": "runyard.pipelines",
    "PipelineResult": "runyard.pipelines",
    "PipelineFailed": "runyard.pipelines",
    "sweep": "runyard.sweeps",
    "Sweep": "runyard.sweeps",
    "load_sweep": "runyard.sweeps",
    "Trial": "runyard.sweeps",
    "TrialPruned": "runyard.sweeps",
    "uniform": "runyard.sweeps",
    "loguniform": "runyard.sweeps",
    "quniform": "runyard.sweeps",
    "randint": "runyard.sweeps",
    "qint": "runyard.sweeps",
    "choice": "runyard.sweeps",
    "register_model": "runyard.registry",
    "set_alias": "runyard.registry",
    "load_model": "runyard.registry",
    "resolve_model": "runyard.registry",
    "train": "runyard.training",
    "TrainContext": "runyard.training",
    "TrainResult": "runyard.training",
    "TrainState": "runyard.training",
    "load_checkpoint": "runyard.training",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'runyard' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AlreadyExists",
    "Comparison",
    "EvalResult",
    "GateVerdict",
    "bucket",
    "compare",
    "evaluate",
    "gate",
    "load_eval",
    "Pipeline",
    "PipelineFailed",
    "PipelineResult",
    "pipeline",
    "step",
    "unmapped",
    "train",
    "TrainContext",
    "TrainResult",
    "TrainState",
    "load_checkpoint",
    "register_model",
    "set_alias",
    "load_model",
    "resolve_model",
    "sweep",
    "Sweep",
    "load_sweep",
    "Trial",
    "TrialPruned",
    "uniform",
    "loguniform",
    "quniform",
    "randint",
    "qint",
    "choice",
    "ArtifactRef",
    "Client",
    "Experiment",
    "InvalidArgument",
    "InvalidFilter",
    "LineageEdge",
    "Metric",
    "MetricSeries",
    "MetricSummary",
    "NotFound",
    "Page",
    "ParamConflict",
    "Run",
    "RunStatus",
    "RunyardError",
    "StoreError",
    "UnsafePath",
    "__version__",
    "active_run",
    "start_run",
]
