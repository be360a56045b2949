"""Options shared by several verbs."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["ArtifactUri", "TrackingUri"]

TrackingUri = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        envvar="RUNYARD_TRACKING_URI",
        help="Tracking store URI (default: the project-local SQLite file).",
    ),
]
ArtifactUri = Annotated[
    str | None,
    typer.Option(
        "--artifact-uri",
        envvar="RUNYARD_ARTIFACT_URI",
        help="Artifact store URI (default: the project-local folder).",
    ),
]
