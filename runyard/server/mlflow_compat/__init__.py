"""The MLflow REST API over a runyard store, so the stock ``mlflow`` client works unchanged.

Point ``MLFLOW_TRACKING_URI`` at a runyard server: experiments, runs, params, metrics,
tags, search, metric history, the ``mlflow-artifacts`` proxy and the model registry answer
as MLflow's server does, with MLflow's ``error_code`` values (see ``docs/mlflow-compat.md``
for what is covered).
"""

from __future__ import annotations

from fastapi import APIRouter

from runyard.server.mlflow_compat import artifacts, registry, tracking

__all__ = ["routers"]


def routers() -> list[APIRouter]:
    """The routers of the MLflow-compatible API."""
    return [tracking.router(), registry.router(), artifacts.router()]
