"""References to artifacts recorded on runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ArtifactRef:
    """A file an artifact store holds, as recorded on a run.

    Attributes:
        path: the path relative to the run's artifact root (forward slashes).
        digest: ``sha256:<hex>`` of the content.
        size: bytes.
        uri: where the bytes live (the store's URI for the blob).
    """

    path: str
    digest: str
    size: int
    uri: str
