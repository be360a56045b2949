"""The runyard tracking server: native REST API, MLflow REST API, artifact proxy, auth.

Example:
    >>> from runyard.server import create_app  # doctest: +SKIP
"""

from runyard.server.app import create_app

__all__ = ["create_app"]
