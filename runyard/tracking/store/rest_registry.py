"""The registry and API-token methods of :class:`~runyard.tracking.store.rest.RestTrackingStore`.

They call the server's native ``/api/v1/registered-model(s)``, ``/api/v1/model-version(s)``
and ``/api/v1/tokens`` routes; the server's store does the work, so the semantics (and the
errors) are exactly those of the SQL store. Names travel in query strings and bodies.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import httpx

from runyard.entities import Page
from runyard.entities.registry import ApiToken, ModelVersion, RegisteredModel
from runyard.errors import NotFound
from runyard.wire import (
    ApiTokenOut,
    ModelVersionOut,
    ModelVersionPage,
    RegisteredModelOut,
    RegisteredModelPage,
)

__all__ = ["RestRegistryMixin"]

_MODEL = "/api/v1/registered-model"
_VERSION = "/api/v1/model-version"


def _model(out: RegisteredModelOut) -> RegisteredModel:
    return RegisteredModel(
        out.name,
        out.description,
        out.creation_time,
        out.last_updated_time,
        MappingProxyType(dict(out.tags)),
        MappingProxyType(dict(out.aliases)),
    )


def _version(out: ModelVersionOut) -> ModelVersion:
    return ModelVersion(
        out.name,
        out.version,
        out.source,
        out.run_id,
        out.description,
        out.status,
        out.stage,
        out.creation_time,
        out.last_updated_time,
        MappingProxyType(dict(out.tags)),
        tuple(out.aliases),
    )


def _token(out: ApiTokenOut) -> ApiToken:
    return ApiToken(out.token_id, out.name, out.scope, out.created, out.expires, out.revoked)


class RestRegistryMixin:
    """Registry and token methods over the native REST API (mixed into the REST store)."""

    def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        retry_all: bool = True,
    ) -> httpx.Response:
        raise NotImplementedError  # pragma: no cover - provided by RestTrackingStore

    def _capability(self, name: str) -> bool:
        raise NotImplementedError  # pragma: no cover - provided by RestTrackingStore

    # -- registry -------------------------------------------------------------------------

    @property
    def supports_registry(self) -> bool:
        """True when the server's store keeps the model registry."""
        return self._capability("registry")

    def create_registered_model(
        self, name: str, description: str = "", tags: Mapping[str, str] | None = None
    ) -> RegisteredModel:
        """Create a registered model. Raises AlreadyExists, InvalidArgument."""
        body = {"name": name, "description": description or "", "tags": dict(tags or {})}
        r = self._call(
            "POST",
            "/api/v1/registered-models",
            "create_registered_model",
            body=body,
            retry_all=False,
        )
        return _model(RegisteredModelOut.model_validate_json(r.content))

    def get_registered_model(self, name: str) -> RegisteredModel:
        """A registered model with its tags and aliases. Raises NotFound."""
        r = self._call("GET", _MODEL, "get_registered_model", params={"name": name})
        return _model(RegisteredModelOut.model_validate_json(r.content))

    def search_registered_models(
        self, name_like: str | None = None, max_results: int = 100, page_token: str | None = None
    ) -> Page[RegisteredModel]:
        """Registered models by name (``name_like`` is a SQL LIKE pattern)."""
        params: dict[str, Any] = {"max_results": max_results}
        if name_like:
            params["name_like"] = name_like
        if page_token is not None:
            params["page_token"] = page_token
        r = self._call(
            "GET", "/api/v1/registered-models", "search_registered_models", params=params
        )
        page = RegisteredModelPage.model_validate_json(r.content)
        return Page(tuple(_model(m) for m in page.registered_models), page.next_page_token)

    def update_registered_model(
        self, name: str, new_name: str | None = None, description: str | None = None
    ) -> RegisteredModel:
        """Rename and/or re-describe a model. Raises NotFound, AlreadyExists."""
        body = {"new_name": new_name, "description": description}
        r = self._call(
            "PATCH",
            _MODEL,
            "update_registered_model",
            body=body,
            params={"name": name},
            retry_all=False,
        )
        return _model(RegisteredModelOut.model_validate_json(r.content))

    def delete_registered_model(self, name: str) -> None:
        """Delete a model with its versions, tags and aliases. Raises NotFound."""
        self._call(
            "DELETE", _MODEL, "delete_registered_model", params={"name": name}, retry_all=False
        )

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        """Set a tag on a registered model. Raises NotFound, InvalidArgument."""
        self._call(
            "POST",
            f"{_MODEL}/tags",
            "set_registered_model_tag",
            body={"key": key, "value": value},
            params={"name": name},
        )

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove a tag from a registered model. Raises NotFound."""
        self._call(
            "POST",
            f"{_MODEL}/tags/delete",
            "delete_registered_model_tag",
            body={"key": key},
            params={"name": name},
            retry_all=False,
        )

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> ModelVersion:
        """Add the next version of a model (not retried once sent: it is not idempotent)."""
        body = {
            "name": name,
            "source": source,
            "run_id": run_id,
            "description": description or "",
            "tags": dict(tags or {}),
        }
        r = self._call(
            "POST", "/api/v1/model-versions", "create_model_version", body=body, retry_all=False
        )
        return _version(ModelVersionOut.model_validate_json(r.content))

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        """One version. Raises NotFound."""
        r = self._call("GET", _VERSION, "get_model_version", params=_mv(name, version))
        return _version(ModelVersionOut.model_validate_json(r.content))

    def search_model_versions(
        self,
        name: str | None = None,
        run_id: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        """Versions, newest first, optionally of one model and/or from one run."""
        given = {"name": name, "run_id": run_id, "page_token": page_token}
        params: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        params["max_results"] = max_results
        r = self._call("GET", "/api/v1/model-versions", "search_model_versions", params=params)
        page = ModelVersionPage.model_validate_json(r.content)
        return Page(tuple(_version(v) for v in page.model_versions), page.next_page_token)

    def update_model_version(
        self, name: str, version: int, description: str | None = None, stage: str | None = None
    ) -> ModelVersion:
        """Change a version's description or legacy stage. Raises NotFound."""
        body = {"description": description, "stage": stage}
        r = self._call(
            "PATCH", _VERSION, "update_model_version", body=body, params=_mv(name, version)
        )
        return _version(ModelVersionOut.model_validate_json(r.content))

    def delete_model_version(self, name: str, version: int) -> None:
        """Delete a version (its aliases go with it). Raises NotFound."""
        self._call(
            "DELETE", _VERSION, "delete_model_version", params=_mv(name, version), retry_all=False
        )

    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        """Set a tag on a version. Raises NotFound, InvalidArgument."""
        self._call(
            "POST",
            f"{_VERSION}/tags",
            "set_model_version_tag",
            body={"key": key, "value": value},
            params=_mv(name, version),
        )

    def delete_model_version_tag(self, name: str, version: int, key: str) -> None:
        """Remove a tag from a version. Raises NotFound."""
        self._call(
            "POST",
            f"{_VERSION}/tags/delete",
            "delete_model_version_tag",
            body={"key": key},
            params=_mv(name, version),
            retry_all=False,
        )

    def set_model_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``alias`` at a version (moving it if set). Raises NotFound, InvalidArgument."""
        self._call(
            "PUT",
            f"{_MODEL}/aliases",
            "set_model_alias",
            body={"alias": alias, "version": int(version)},
            params={"name": name},
        )

    def delete_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias. Raises NotFound."""
        self._call(
            "DELETE",
            f"{_MODEL}/aliases",
            "delete_model_alias",
            params={"name": name, "alias": alias},
            retry_all=False,
        )

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at. Raises NotFound."""
        r = self._call(
            "GET",
            f"{_MODEL}/aliases",
            "get_model_version_by_alias",
            params={"name": name, "alias": alias},
        )
        return _version(ModelVersionOut.model_validate_json(r.content))

    # -- tokens ---------------------------------------------------------------------------

    @property
    def supports_tokens(self) -> bool:
        """True when the server's store keeps API tokens (the calls need an admin token)."""
        return self._capability("tokens")

    def create_token(
        self, token_id: str, name: str, scope: str, token_hash: str, expires: int | None = None
    ) -> ApiToken:
        """Store a token by its hash. Raises AlreadyExists, InvalidArgument."""
        body = {
            "token_id": token_id,
            "name": name,
            "scope": scope,
            "token_hash": token_hash,
            "expires": expires,
        }
        r = self._call("POST", "/api/v1/tokens", "create_token", body=body, retry_all=False)
        return _token(ApiTokenOut.model_validate_json(r.content))

    def find_token(self, token_hash: str) -> ApiToken | None:
        """The token with that hash (revoked ones included), or None."""
        try:
            r = self._call(
                "GET", "/api/v1/tokens/by-hash", "find_token", params={"token_hash": token_hash}
            )
        except NotFound:
            return None
        return _token(ApiTokenOut.model_validate_json(r.content))

    def list_tokens(self) -> list[ApiToken]:
        """Every token, oldest first."""
        r = self._call("GET", "/api/v1/tokens", "list_tokens")
        return [_token(ApiTokenOut.model_validate(t)) for t in r.json()]

    def revoke_token(self, token_id: str) -> None:
        """Revoke a token. Raises NotFound."""
        from urllib.parse import quote

        self._call("DELETE", f"/api/v1/tokens/{quote(token_id, safe='')}", "revoke_token")


def _mv(name: str, version: int) -> dict[str, Any]:
    return {"name": name, "version": int(version)}
