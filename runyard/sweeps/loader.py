"""Loading what the CLI names: an objective ``path/to/file.py:name`` and a space file.

Example:
    >>> from runyard.sweeps.loader import load_objective
    >>> load_objective("no_such_file.py:objective")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    runyard.errors.NotFound: no objective file 'no_such_file.py'
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runyard._internal.targets import load_target
from runyard.errors import InvalidArgument, MissingDependency, NotFound
from runyard.sweeps.space import ParamType, space_from_dict

__all__ = ["load_objective", "load_space"]


def load_objective(target: str) -> Callable[..., Any]:
    """Import the objective ``FILE.py:NAME`` or ``MODULE:NAME`` names.

    The file's folder goes first on ``sys.path`` so that worker processes import the same
    module by name.

    Raises:
        InvalidArgument: no ``:NAME`` part, or the attribute is not callable.
        NotFound: the file, module or attribute does not exist.
        UserCodeError: importing the file raised.
    """
    obj = load_target(target, "objective")
    if not callable(obj):
        raise InvalidArgument(f"{target} is a {type(obj).__name__}, not a function")
    return obj


def load_space(path: str | Path) -> dict[str, ParamType]:
    """Read a search space from a YAML or JSON file (see :func:`space_from_dict`).

    Raises:
        NotFound: the file does not exist.
        InvalidArgument: the file does not parse, or an entry is not a space type.
    """
    file = Path(path)
    if not file.is_file():
        raise NotFound(f"no space file {str(file)!r}")
    text = file.read_text()
    if file.suffix != ".json":
        try:
            import yaml  # type: ignore[import-untyped]
        except ImportError as e:
            raise MissingDependency("pyyaml", "all") from e
    try:
        data = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except Exception as e:  # yaml.YAMLError, ValueError: a file that does not parse
        raise InvalidArgument(f"{file} does not parse: {e}") from e
    return space_from_dict(data or {})
