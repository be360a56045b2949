"""Small parsing shared by the native routes."""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel

from runyard.entities import LifecycleStage
from runyard.tracking.store.base import ViewType

__all__ = ["json_response", "parse_view"]

_VIEWS: dict[str, ViewType] = {
    "active": LifecycleStage.ACTIVE,
    "deleted": LifecycleStage.DELETED,
    "all": None,
}


def parse_view(view: str) -> ViewType:
    """Map ``active|deleted|all`` to a store view (the wire schema already checked it)."""
    return _VIEWS[view]


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """Serialise a wire model with pydantic (non-finite floats as strings) into a response."""
    return Response(model.model_dump_json(), status_code, media_type="application/json")
