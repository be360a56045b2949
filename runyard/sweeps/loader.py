"""Loading what the CLI names: an objective ``path/to/file.py:name`` and a space file.

Example:
    >>> from runyard.sweeps.loader import load_objective
    >>> load_objective("no_such_file.py:objective")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    runyard.errors.NotFound: no objective file 'no_such_file.py'
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from runyard.errors import InvalidArgument, MissingDependency, NotFound, UserCodeError
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
    where, sep, name = target.rpartition(":")
    if not sep or not where or not name:
        raise InvalidArgument(f"name an objective as FILE.py:NAME or MODULE:NAME, got {target!r}")
    module = _import_file(Path(where)) if where.endswith(".py") else _import_module(where)
    obj = getattr(module, name, None)
    if obj is None:
        raise NotFound(f"{where} has no attribute {name!r}")
    if not callable(obj):
        raise InvalidArgument(f"{target} is a {type(obj).__name__}, not a function")
    return obj  # type: ignore[no-any-return]


def _import_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        raise NotFound(f"no module {name!r}") from e
    except Exception as e:  # the user's module raised on import
        raise UserCodeError(f"importing {name}", e) from e


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise NotFound(f"no objective file {str(path)!r}")
    path = path.resolve()
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        return importlib.import_module(path.stem)
    except ModuleNotFoundError as e:
        raise NotFound(f"cannot import {str(path)!r}: {e}") from e
    except Exception as e:  # the user's file raised on import
        raise UserCodeError(f"importing {path.name}", e) from e


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
