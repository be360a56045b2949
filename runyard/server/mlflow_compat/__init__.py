"""The MLflow REST API (``/api/2.0/mlflow/...``) over a runyard store, for the stock client."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["routers"]


def routers() -> list[APIRouter]:
    """The routers of the MLflow-compatible API."""
    return []
