"""The ``runyard-model.json`` file that sits beside a saved model's files."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runyard.errors import InvalidArgument
from runyard.registry.signature import Signature

__all__ = ["MANIFEST", "ModelManifest"]

MANIFEST = "runyard-model.json"
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class ModelManifest:
    """What a saved model is: its flavor, signature and flavor metadata.

    Attributes:
        flavor: ``torch``, ``onnx``, ``sklearn`` or ``python``.
        signature: the declared inputs and outputs.
        metadata: flavor facts (format, parity error, library versions) and user metadata.
    """

    flavor: str
    signature: Signature
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """The file's text."""
        return json.dumps(
            {
                "format_version": _FORMAT,
                "flavor": self.flavor,
                "signature": self.signature.to_dict(),
                "metadata": dict(self.metadata),
            },
            indent=2,
            sort_keys=True,
            default=str,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelManifest:
        """Parse the file. Raises InvalidArgument when it is not a runyard model manifest."""
        try:
            data = json.loads(text)
            return cls(
                str(data["flavor"]),
                Signature.from_dict(data["signature"]),
                dict(data.get("metadata", {})),
            )
        except (ValueError, KeyError, TypeError) as e:
            raise InvalidArgument(f"{MANIFEST} is not a runyard model manifest: {e}") from e

    @classmethod
    def read(cls, folder: Path) -> ModelManifest:
        """Read ``folder/runyard-model.json``."""
        path = folder / MANIFEST
        if not path.is_file():
            raise InvalidArgument(f"{folder} holds no {MANIFEST}; it is not a saved runyard model")
        return cls.from_json(path.read_text())
