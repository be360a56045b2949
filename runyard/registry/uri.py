"""``models:/`` and ``runs:/`` URIs.

* ``models:/digits-mlp@champion`` — the version an alias points at;
* ``models:/digits-mlp/3`` — version 3;
* ``models:/digits-mlp`` or ``models:/digits-mlp/latest`` — the newest version;
* ``runs:/<run_id>/model`` — a model logged on a run, registered or not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runyard.errors import InvalidArgument

__all__ = ["ModelRef", "RunModelRef", "parse_model_uri"]

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_MODELS = re.compile(
    rf"^models:/(?P<name>{_NAME})(?:@(?P<alias>{_NAME})|/(?P<version>\d+|latest))?/?$"
)
_RUNS = re.compile(r"^runs:/(?P<run>[0-9A-Za-z]+)/(?P<path>[^\s]+?)/?$")


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A parsed ``models:/`` URI: exactly one of ``alias``/``version``, or neither (latest).

    Example:
        >>> parse_model_uri("models:/digits-mlp@champion")
        ModelRef(name='digits-mlp', alias='champion', version=None)
    """

    name: str
    alias: str | None = None
    version: int | None = None

    @property
    def uri(self) -> str:
        """The URI back."""
        if self.alias is not None:
            return f"models:/{self.name}@{self.alias}"
        if self.version is not None:
            return f"models:/{self.name}/{self.version}"
        return f"models:/{self.name}"


@dataclass(frozen=True, slots=True)
class RunModelRef:
    """A parsed ``runs:/<run_id>/<path>`` URI."""

    run_id: str
    path: str

    @property
    def uri(self) -> str:
        """The URI back."""
        return f"runs:/{self.run_id}/{self.path}"


def parse_model_uri(uri: str) -> ModelRef | RunModelRef:
    """Parse a model URI. Raises InvalidArgument with the accepted forms.

    Example:
        >>> parse_model_uri("models:/digits-mlp/3").version
        3
    """
    m = _MODELS.match(uri)
    if m:
        version = m.group("version")
        return ModelRef(
            m.group("name"),
            m.group("alias"),
            int(version) if version and version != "latest" else None,
        )
    r = _RUNS.match(uri)
    if r:
        return RunModelRef(r.group("run"), r.group("path"))
    raise InvalidArgument(
        f"not a model URI: {uri!r}; expected models:/<name>@<alias>, models:/<name>/<version>, "
        "models:/<name> or runs:/<run_id>/<path>"
    )
