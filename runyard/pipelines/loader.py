"""Loading a pipeline named ``path/to/file.py:name`` or ``package.module:name``."""

from __future__ import annotations

from runyard._internal.targets import load_target
from runyard.errors import InvalidArgument
from runyard.pipelines.pipeline import Pipeline

__all__ = ["load_pipeline"]


def load_pipeline(target: str) -> Pipeline:
    """Import the pipeline that ``target`` names.

    A file is imported under its stem as module name, with its folder put first on
    ``sys.path`` so that process workers import the same module by name.

    Raises:
        InvalidArgument: ``target`` has no ``:name`` part, or names something that is not
            a ``@pipeline``.
        NotFound: the file, module or attribute does not exist.
        UserCodeError: importing the file raised.

    Example:
        >>> from runyard.pipelines.loader import load_pipeline
        >>> load_pipeline("no_such_file.py:p")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        runyard.errors.NotFound: no pipeline file 'no_such_file.py'
    """
    obj = load_target(target, "pipeline")
    if not isinstance(obj, Pipeline):
        raise InvalidArgument(f"{target} is a {type(obj).__name__}, not a @pipeline")
    return obj
