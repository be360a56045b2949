"""Lineage edges: what a run read and what it produced."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class NodeKind(enum.StrEnum):
    """The kind of a lineage node."""

    RUN = "run"
    ARTIFACT = "artifact"
    DATASET = "dataset"
    MODEL = "model"


@dataclass(frozen=True, slots=True)
class LineageEdge:
    """A directed edge from an input to an output.

    A run that read ``data.parquet`` has an edge artifact → run; a run that wrote a model
    has an edge run → artifact.

    Attributes:
        source_kind: the kind of the source node.
        source_id: a run id, an artifact digest or URI, a dataset name.
        target_kind: the kind of the target node.
        target_id: as ``source_id``.
        relation: a free-form label (``input``, ``output``, ``derived``).
    """

    source_kind: NodeKind
    source_id: str
    target_kind: NodeKind
    target_id: str
    relation: str = "derived"
