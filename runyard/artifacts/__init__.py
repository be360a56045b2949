"""Artifact stores: where runs keep their files.

A store is picked by URI — the argument, else ``$RUNYARD_ARTIFACT_URI``, else the folder
``$RUNYARD_HOME/artifacts``:

==============================  ================================================
URI                             store
==============================  ================================================
``/data/artifacts``, ``./a``    :class:`LocalArtifactStore` (a local folder)
``file:///data/artifacts``      :class:`LocalArtifactStore`
``s3://bucket/prefix``          :class:`FsspecArtifactStore` via s3fs (extra ``s3``)
``gs://bucket/prefix``          :class:`FsspecArtifactStore` via gcsfs (extra ``gcs``)
``http(s)://host:port``         :class:`HttpArtifactStore`, a server's proxy
==============================  ================================================

:func:`open_cas` wraps the store in a :class:`ContentAddressedStore`: deduplicated blobs
named by their SHA-256, and :class:`~runyard.entities.ArtifactRef` values to record on runs.

Example:
    >>> from runyard.artifacts import open_cas
    >>> cas = open_cas("/tmp/runyard-doc-artifacts")
    >>> ref = cas.put_bytes(b'{"lr": 0.1}', "config.json")
    >>> cas.get_bytes(ref.digest)
    b'{"lr": 0.1}'
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from runyard.artifacts.base import CHUNK_SIZE, ArtifactInfo, ArtifactStore
from runyard.artifacts.cas import ContentAddressedStore, parse_digest
from runyard.artifacts.fsspec import SCHEMES, FsspecArtifactStore
from runyard.artifacts.local import LocalArtifactStore
from runyard.artifacts.paths import check_path, check_prefix
from runyard.config import resolve_artifact_uri
from runyard.errors import InvalidArgument

__all__ = [
    "CHUNK_SIZE",
    "ArtifactInfo",
    "ArtifactStore",
    "ContentAddressedStore",
    "FsspecArtifactStore",
    "LocalArtifactStore",
    "check_path",
    "check_prefix",
    "get_artifact_store",
    "open_cas",
    "parse_digest",
]


def get_artifact_store(uri: str | None = None, **storage_options: Any) -> ArtifactStore:
    """The artifact store for a URI (see the module docstring for the URIs).

    Args:
        uri: a folder, ``file://``, ``s3://`` or ``gs://`` URI; None resolves it through
            :func:`runyard.config.resolve_artifact_uri`.
        **storage_options: for object stores only, passed to s3fs / gcsfs
            (``endpoint_url``, ``key``, ``secret``, …).

    Raises:
        InvalidArgument: an unsupported scheme, a ``file://`` URI on another host, or
            storage options given for a local folder.
        MissingDependency: the package of an object store is not installed.
        StoreError: a local folder cannot be created.

    Example:
        >>> store = get_artifact_store("file:///tmp/runyard-doc-artifacts")
        >>> store.uri
        'file:///tmp/runyard-doc-artifacts'
    """
    resolved = resolve_artifact_uri(uri)
    if "://" not in resolved and not resolved.lower().startswith("file:"):
        return _local(resolved, storage_options)
    parts = urlsplit(resolved)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise InvalidArgument(f"file URI {resolved!r} names another host; use a local path")
        from urllib.request import url2pathname  # lazy: it pulls in http.client

        return _local(url2pathname(unquote(parts.path)), storage_options)
    if scheme in SCHEMES:
        return FsspecArtifactStore(resolved, **storage_options)
    if scheme in ("http", "https"):  # a runyard server's artifact proxy (httpx: lazy import)
        from runyard.artifacts.http import HttpArtifactStore

        return HttpArtifactStore(resolved, **storage_options)
    supported = ", ".join(["file", *SCHEMES, "http", "https"])
    raise InvalidArgument(
        f"unsupported artifact URI {resolved!r}: the scheme must be one of {supported}, "
        "or give a local folder"
    )


def open_cas(uri: str | None = None, **storage_options: Any) -> ContentAddressedStore:
    """A :class:`ContentAddressedStore` over :func:`get_artifact_store` ``(uri)``.

    Raises:
        As :func:`get_artifact_store`.

    Example:
        >>> cas = open_cas("/tmp/runyard-doc-artifacts")
        >>> cas.has(cas.put_bytes(b"x", "x.txt").digest)
        True
    """
    return ContentAddressedStore(get_artifact_store(uri, **storage_options))


def _local(path: str, storage_options: dict[str, Any]) -> LocalArtifactStore:
    if storage_options:
        raise InvalidArgument(
            f"storage options {sorted(storage_options)} apply to object stores, not a local folder"
        )
    return LocalArtifactStore(path)
