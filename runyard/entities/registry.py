"""The model registry: registered models, their versions and aliases; and API tokens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["ApiToken", "ModelVersion", "RegisteredModel"]


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A named model whose versions come from runs.

    Attributes:
        name: unique among registered models.
        description: free text.
        creation_time: milliseconds since the epoch.
        last_updated_time: milliseconds since the epoch.
        tags: free-form string tags.
        aliases: alias → version number (``champion`` → 3).
    """

    name: str
    description: str
    creation_time: int
    last_updated_time: int
    tags: Mapping[str, str] = field(default_factory=_empty)
    aliases: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One version of a registered model.

    Attributes:
        name: the registered model.
        version: 1, 2, … in creation order.
        source: where the model's files are (an artifact URI or ``runs:/<id>/<path>``).
        run_id: the run that produced it, or None.
        description: free text.
        status: ``READY`` (``PENDING_REGISTRATION`` / ``FAILED_REGISTRATION`` for
            registrations that copy files).
        stage: a legacy MLflow stage (``None``, ``Staging``, ``Production``, ``Archived``).
        creation_time: milliseconds since the epoch.
        last_updated_time: milliseconds since the epoch.
        tags: free-form string tags.
        aliases: the aliases that point at this version.
    """

    name: str
    version: int
    source: str
    run_id: str | None
    description: str
    status: str
    stage: str
    creation_time: int
    last_updated_time: int
    tags: Mapping[str, str] = field(default_factory=_empty)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A bearer token of a server; the token itself is never stored, only its hash.

    Attributes:
        token_id: a short public id (shown in listings, used to revoke).
        name: what it is for.
        scope: ``read``, ``write`` or ``admin``.
        created: milliseconds since the epoch.
        expires: milliseconds since the epoch, or None for never.
        revoked: True once revoked.
    """

    token_id: str
    name: str
    scope: str
    created: int
    expires: int | None = None
    revoked: bool = False

    def is_valid(self, now_ms: int | None = None) -> bool:
        """True when the token is neither revoked nor expired."""
        import time

        now = int(time.time() * 1000) if now_ms is None else now_ms
        return not self.revoked and (self.expires is None or now < self.expires)
