"""Build the app from environment variables, for ``uvicorn --factory`` with several workers.

``runyard server --workers N`` hands its settings to each worker process through these
variables; every worker opens its own store on the same database, so N workers behave as
one server.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from runyard.artifacts import get_artifact_store
from runyard.config import resolve_artifact_uri
from runyard.server.app import create_app
from runyard.server.context import DEFAULT_MAX_BODY_BYTES
from runyard.tracking.store import get_store

__all__ = ["AUTH_ENV", "BACKEND_ENV", "MAX_BODY_ENV", "app_from_env"]

BACKEND_ENV = "RUNYARD_SERVER_BACKEND_STORE_URI"
AUTH_ENV = "RUNYARD_SERVER_AUTH"
MAX_BODY_ENV = "RUNYARD_SERVER_MAX_BODY_BYTES"


def app_from_env() -> FastAPI:
    """The app for the settings in the environment (see the module docstring).

    Example:
        >>> # uvicorn --factory runyard.server.factory:app_from_env
    """
    store = get_store(os.environ.get(BACKEND_ENV) or None)
    artifacts = get_artifact_store(resolve_artifact_uri())
    return create_app(
        store,
        artifacts,
        auth=os.environ.get(AUTH_ENV, "") == "1",
        max_body_bytes=int(os.environ.get(MAX_BODY_ENV) or DEFAULT_MAX_BODY_BYTES),
    )
