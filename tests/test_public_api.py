"""The public surface is deliberate: pinned names, and a light import."""

from __future__ import annotations

import subprocess
import sys

import runyard

EXPECTED = {
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
}


def test_all_is_pinned() -> None:
    assert set(runyard.__all__) == EXPECTED
    for name in runyard.__all__:
        assert hasattr(runyard, name), name


def test_import_runyard_loads_no_heavy_dependency() -> None:
    heavy = [
        "sqlalchemy",
        "alembic",
        "numpy",
        "pyarrow",
        "pandas",
        "polars",
        "torch",
        "ray",
        "optuna",
        "sklearn",
        "fastapi",
        "fsspec",
        "psutil",
    ]
    code = f"import sys, runyard; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import runyard pulled in: {out.stdout.strip()}"
