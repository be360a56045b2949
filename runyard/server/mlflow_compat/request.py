"""Reading an MLflow request: JSON body for writes, query parameters for GET."""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.requests import Request

from runyard.errors import InvalidArgument

__all__ = ["payload"]


async def payload(request: Request) -> dict[str, Any]:
    """The request's fields: the query for GET, else the JSON body (an object).

    Raises:
        InvalidArgument: the body is not a JSON object.
    """
    if request.method == "GET":
        fields: dict[str, Any] = {}
        for key, value in request.query_params.multi_items():
            if key in fields:
                existing = fields[key]
                fields[key] = (
                    [*existing, value] if isinstance(existing, list) else [existing, value]
                )
            else:
                fields[key] = value
        return fields
    raw = await request.body()
    if not raw.strip():
        return dict(request.query_params)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:  # orjson refuses what json accepts (NaN literals, ints over 64 bits): ask json
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise InvalidArgument(f"malformed JSON body: {e}") from e
    if not isinstance(body, dict):
        raise InvalidArgument("the JSON body must be an object")
    return body
