"""Importing what a command line names: ``path/to/file.py:NAME`` or ``package.module:NAME``.

Shared by ``runyard run`` (pipelines), ``runyard sweep`` (objectives) and ``runyard train``
(training loops), so that all three name code the same way and fail the same way.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from runyard.errors import InvalidArgument, NotFound, UserCodeError

__all__ = ["load_target"]


def load_target(target: str, what: str = "object") -> object:
    """Import the attribute that ``target`` names.

    A file is imported under its stem as module name, with its folder put first on
    ``sys.path`` so that process workers import the same module by name.

    Args:
        target: ``FILE.py:NAME`` or ``MODULE:NAME``.
        what: what is being loaded, for messages (``pipeline``, ``objective``, ...).

    Raises:
        InvalidArgument: ``target`` has no ``:NAME`` part.
        NotFound: the file, module or attribute does not exist.
        UserCodeError: importing the file raised.

    Example:
        >>> from runyard._internal.targets import load_target
        >>> load_target("os.path:join", "function").__name__
        'join'
    """
    where, sep, name = target.rpartition(":")
    if not sep or not where or not name:
        raise InvalidArgument(f"name a {what} as FILE.py:NAME or MODULE:NAME, got {target!r}")
    module = _import_file(Path(where), what) if where.endswith(".py") else _import_module(where)
    obj = getattr(module, name, None)
    if obj is None:
        raise NotFound(f"{where} has no attribute {name!r}")
    return obj


def _import_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        raise NotFound(f"no module {name!r}") from e
    except Exception as e:  # the user's module raised on import
        raise UserCodeError(f"importing {name}", e) from e


def _import_file(path: Path, what: str) -> ModuleType:
    if not path.is_file():
        raise NotFound(f"no {what} file {str(path)!r}")
    path = path.resolve()
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    existing = sys.modules.get(path.stem)
    if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() == path:
        return existing
    name = path.stem if existing is None else f"{path.stem}_{abs(hash(str(path))):x}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InvalidArgument(f"cannot import {str(path)!r} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the user's file raised on import
        del sys.modules[name]
        raise UserCodeError(f"importing {path.name}", e) from e
    return module
