"""Wire schemas for artifact references, artifact listings and lineage edges."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "ArtifactDeleted",
    "ArtifactFile",
    "ArtifactListing",
    "ArtifactMoveRequest",
    "ArtifactRefWire",
    "LineageEdgeWire",
]

_STRICT = ConfigDict(extra="forbid")


class ArtifactRefWire(BaseModel):
    """An artifact recorded on a run."""

    model_config = _STRICT
    path: str
    digest: str
    size: int
    uri: str

    @classmethod
    def of(cls, ref: Any) -> ArtifactRefWire:
        """Build from a :class:`runyard.entities.ArtifactRef`."""
        return cls(path=ref.path, digest=ref.digest, size=ref.size, uri=ref.uri)


class ArtifactFile(BaseModel):
    """A file in the server's artifact store."""

    model_config = _STRICT
    path: str
    size: int


class ArtifactListing(BaseModel):
    """Files under a prefix of the server's artifact store."""

    model_config = _STRICT
    files: list[ArtifactFile]


class ArtifactMoveRequest(BaseModel):
    """``POST /api/v1/artifact-moves``: move a file inside the server's artifact store."""

    model_config = _STRICT
    src: str
    dst: str


class ArtifactDeleted(BaseModel):
    """How many files a delete removed."""

    model_config = _STRICT
    deleted: int


class LineageEdgeWire(BaseModel):
    """A lineage edge."""

    model_config = _STRICT
    source_kind: str
    source_id: str
    target_kind: str
    target_id: str
    relation: str = "derived"

    @classmethod
    def of(cls, edge: Any) -> LineageEdgeWire:
        """Build from a :class:`runyard.entities.LineageEdge`."""
        return cls(
            source_kind=str(edge.source_kind),
            source_id=edge.source_id,
            target_kind=str(edge.target_kind),
            target_id=edge.target_id,
            relation=edge.relation,
        )
