"""Storing results on a run and reading them back.

A result is stored as ``eval/results.parquet`` (the result table plus the bootstrap
replicates and slice keys, with the configuration in the schema metadata), optionally
``eval/failures.parquet``, and one summary metric per slice and metric named
``eval/<slice>/<metric>`` (``eval/overall/accuracy``, ``eval/weather=rain/time_of_day=night/f1``).
The run and client are only used through the two small protocols below.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from runyard.errors import InvalidArgument, NotFound
from runyard.evaluation.result import EvalConfig, EvalResult

__all__ = ["ArtifactReader", "EvalRun", "load_eval", "log_eval", "metric_key"]

_META = b"runyard.eval"
_MAX_KEY = 250


@runtime_checkable
class EvalRun(Protocol):
    """What storing a result needs from a run."""

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log summary metrics."""

    def log_artifact(
        self, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> Any:
        """Store a local file under ``artifact_path`` (a folder)."""


@runtime_checkable
class ArtifactReader(Protocol):
    """What reading a result back needs from a client."""

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """The bytes of one artifact of a run."""


def metric_key(slice_label: str, metric: str, prefix: str = "eval") -> str:
    """The summary metric key of a (slice, metric): ``eval/weather=rain/time_of_day=night/f1``."""
    return f"{prefix}/{slice_label.replace(' & ', '/')}/{metric}"


def _stored_table(result: EvalResult) -> pa.Table:
    t = result.table
    reps = (
        pa.FixedSizeListArray.from_arrays(
            pa.array(result.replicates.ravel(), pa.float64()), max(result.config.bootstrap, 1)
        )
        if result.config.bootstrap
        else pa.nulls(t.num_rows, pa.list_(pa.float64()))
    )
    keys = pa.array([json.dumps(k) for k in result.keys], pa.string())
    t = t.append_column("replicates", reps).append_column("slice_key", keys)
    return t.replace_schema_metadata({_META: result.config.to_json().encode()})


def log_eval(result: EvalResult, run: EvalRun, artifact_path: str = "eval") -> None:
    """Store ``result`` on ``run`` (see the module docstring)."""
    if not isinstance(run, EvalRun):
        raise InvalidArgument(
            f"run= needs log_metrics and log_artifact (a runyard Run); got {type(run).__name__}"
        )
    with tempfile.TemporaryDirectory(prefix="runyard-eval-") as tmp:
        path = Path(tmp) / "results.parquet"
        pq.write_table(_stored_table(result), path)
        run.log_artifact(path, artifact_path)
        if result.failure_table is not None and result.failure_table.num_rows:
            fpath = Path(tmp) / "failures.parquet"
            pq.write_table(result.failure_table, fpath)
            run.log_artifact(fpath, artifact_path)
    summary = {}
    t = result.table
    for s, m, v in zip(
        t.column("slice").to_pylist(),
        t.column("metric").to_pylist(),
        t.column("value").to_pylist(),
        strict=True,
    ):
        key = metric_key(s, m, artifact_path)
        if len(key) <= _MAX_KEY and v is not None and not math.isnan(v):
            summary[key] = float(v)
    run.log_metrics(summary)


def load_eval(run_id: str, client: ArtifactReader, artifact_path: str = "eval") -> EvalResult:
    """Read a result stored by :func:`log_eval`.

    Raises:
        NotFound: the run has no stored result (raised by the client).
        InvalidArgument: the artifact is not a runyard evaluation.

    Example:
        >>> from runyard.evaluation import load_eval
        >>> res = load_eval(run_id, ry.Client())  # doctest: +SKIP
    """
    data = client.read_artifact(run_id, f"{artifact_path}/results.parquet")
    table = pq.read_table(io.BytesIO(data))
    meta = (table.schema.metadata or {}).get(_META)
    if meta is None:
        raise InvalidArgument(
            f"{artifact_path}/results.parquet of run {run_id} is not a runyard evaluation"
        )
    config = EvalConfig.from_json(meta.decode())
    reps = table.column("replicates")
    if config.bootstrap:
        replicates = np.asarray(
            reps.combine_chunks().flatten().to_numpy(zero_copy_only=False)
        ).reshape(table.num_rows, config.bootstrap)
    else:
        replicates = np.zeros((table.num_rows, 0))
    keys = tuple(
        tuple(tuple(p) for p in json.loads(k)) for k in table.column("slice_key").to_pylist()
    )
    failures = None
    try:
        failures = pq.read_table(
            io.BytesIO(client.read_artifact(run_id, f"{artifact_path}/failures.parquet"))
        )
    except NotFound:
        failures = None  # stored without failures (none were found)
    public = table.drop_columns(["replicates", "slice_key"]).replace_schema_metadata(None)
    return EvalResult(config, public, replicates, keys, failures)
