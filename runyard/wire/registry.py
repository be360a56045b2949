"""Wire schemas for the model registry (registered models, versions, tags, aliases) and tokens.

Names of models, tags and aliases may hold any character (``/`` included), so the native
routes take them in query strings and bodies, never as path segments.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AliasRequest",
    "ApiTokenOut",
    "CreateModelVersionRequest",
    "CreateRegisteredModelRequest",
    "CreateTokenRequest",
    "ModelVersionOut",
    "ModelVersionPage",
    "RegisteredModelOut",
    "RegisteredModelPage",
    "UpdateModelVersionRequest",
    "UpdateRegisteredModelRequest",
]

_STRICT = ConfigDict(extra="forbid")


class CreateRegisteredModelRequest(BaseModel):
    """``POST /api/v1/registered-models``."""

    model_config = _STRICT
    name: str
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)


class UpdateRegisteredModelRequest(BaseModel):
    """``PATCH /api/v1/registered-model?name=…``: rename and/or re-describe."""

    model_config = _STRICT
    new_name: str | None = None
    description: str | None = None


class RegisteredModelOut(BaseModel):
    """A registered model with its tags and aliases (alias → version)."""

    model_config = _STRICT
    name: str
    description: str
    creation_time: int
    last_updated_time: int
    tags: dict[str, str]
    aliases: dict[str, int]

    @classmethod
    def of(cls, model: Any) -> RegisteredModelOut:
        """Build from a :class:`runyard.entities.registry.RegisteredModel`."""
        return cls(
            name=model.name,
            description=model.description,
            creation_time=model.creation_time,
            last_updated_time=model.last_updated_time,
            tags=dict(model.tags),
            aliases=dict(model.aliases),
        )


class RegisteredModelPage(BaseModel):
    """One page of registered models, by name."""

    model_config = _STRICT
    registered_models: list[RegisteredModelOut]
    next_page_token: str | None = None


class CreateModelVersionRequest(BaseModel):
    """``POST /api/v1/model-versions``: add the next version of a model."""

    model_config = _STRICT
    name: str
    source: str
    run_id: str | None = None
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)


class UpdateModelVersionRequest(BaseModel):
    """``PATCH /api/v1/model-version?name=…&version=…``."""

    model_config = _STRICT
    description: str | None = None
    stage: str | None = None


class AliasRequest(BaseModel):
    """``PUT /api/v1/registered-model/aliases?name=…``: point an alias at a version."""

    model_config = _STRICT
    alias: str
    version: int = Field(ge=0, le=2**31 - 1)


class ModelVersionOut(BaseModel):
    """One version of a registered model."""

    model_config = _STRICT
    name: str
    version: int
    source: str
    run_id: str | None
    description: str
    status: str
    stage: str
    creation_time: int
    last_updated_time: int
    tags: dict[str, str]
    aliases: list[str]

    @classmethod
    def of(cls, mv: Any) -> ModelVersionOut:
        """Build from a :class:`runyard.entities.registry.ModelVersion`."""
        return cls(
            name=mv.name,
            version=mv.version,
            source=mv.source,
            run_id=mv.run_id,
            description=mv.description,
            status=mv.status,
            stage=mv.stage,
            creation_time=mv.creation_time,
            last_updated_time=mv.last_updated_time,
            tags=dict(mv.tags),
            aliases=list(mv.aliases),
        )


class ModelVersionPage(BaseModel):
    """One page of model versions."""

    model_config = _STRICT
    model_versions: list[ModelVersionOut]
    next_page_token: str | None = None


class CreateTokenRequest(BaseModel):
    """``POST /api/v1/tokens``: store a token by its SHA-256 (the token itself never travels)."""

    model_config = _STRICT
    token_id: str
    name: str
    scope: str
    token_hash: str
    expires: int | None = Field(default=None, ge=0, le=2**63 - 1)


class ApiTokenOut(BaseModel):
    """An API token's public record."""

    model_config = _STRICT
    token_id: str
    name: str
    scope: str
    created: int
    expires: int | None = None
    revoked: bool = False

    @classmethod
    def of(cls, token: Any) -> ApiTokenOut:
        """Build from a :class:`runyard.entities.registry.ApiToken`."""
        return cls(
            token_id=token.token_id,
            name=token.name,
            scope=token.scope,
            created=token.created,
            expires=token.expires,
            revoked=token.revoked,
        )
