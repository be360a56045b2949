"""Where runyard keeps things: URIs from arguments, then environment, then embedded defaults.

Resolution order for each URI: the explicit argument, then the environment variable
(``RUNYARD_TRACKING_URI``, ``RUNYARD_ARTIFACT_URI``), then the embedded default — a SQLite
file and an artifact folder inside a project-local directory (``RUNYARD_HOME``, else
``./.runyard``).

Example:
    >>> from runyard.config import resolve_tracking_uri
    >>> resolve_tracking_uri("sqlite:////tmp/x.db")
    'sqlite:////tmp/x.db'
"""

from __future__ import annotations

import os
from pathlib import Path

TRACKING_URI_ENV = "RUNYARD_TRACKING_URI"
ARTIFACT_URI_ENV = "RUNYARD_ARTIFACT_URI"
HOME_ENV = "RUNYARD_HOME"

__all__ = [
    "ARTIFACT_URI_ENV",
    "HOME_ENV",
    "TRACKING_URI_ENV",
    "home_dir",
    "resolve_artifact_uri",
    "resolve_tracking_uri",
]


def home_dir() -> Path:
    """The project-local directory that holds the embedded defaults."""
    return Path(os.environ.get(HOME_ENV) or Path.cwd() / ".runyard").resolve()


def resolve_tracking_uri(uri: str | None = None) -> str:
    """The tracking store URI: ``uri``, else ``$RUNYARD_TRACKING_URI``, else a SQLite file."""
    if uri:
        return uri
    env = os.environ.get(TRACKING_URI_ENV)
    if env:
        return env
    return f"sqlite:///{home_dir() / 'runyard.db'}"


def resolve_artifact_uri(uri: str | None = None, *, tracking_uri: str | None = None) -> str:
    """The artifact store URI: ``uri``, else ``$RUNYARD_ARTIFACT_URI``, else a default.

    The default is the artifact proxy of the tracking server when ``tracking_uri`` is a
    runyard server (``http(s)://…``), so remote clients share the server's artifact root;
    otherwise the local folder ``$RUNYARD_HOME/artifacts``.
    """
    if uri:
        return uri
    env = os.environ.get(ARTIFACT_URI_ENV)
    if env:
        return env
    if tracking_uri and tracking_uri.split(":", 1)[0].lower() in ("http", "https"):
        return tracking_uri.rstrip("/") + "/api/v1/artifacts"
    return str(home_dir() / "artifacts")
