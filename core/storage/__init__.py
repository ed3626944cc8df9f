"""Object storage for originals, HLS renditions, thumbnails and lake files.

One interface, ``ObjectStore``, two backends chosen by URL: ``file:///ABSOLUTE/PATH`` (the
embedded default, a directory) and ``s3://BUCKET[/PREFIX]`` (any S3-compatible service, with the
endpoint and credentials from ``VIGIL_S3__*``). The rules both follow (keys, byte ranges,
listing, content types) are in ``core.storage.base``; the errors in ``core.storage.errors``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from .base import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    ObjectInfo,
    ObjectStore,
    ObjectStream,
    PutData,
    normalize_prefix,
    validate_key,
)
from .errors import (
    InvalidKeyError,
    InvalidRangeError,
    KeyConflictError,
    ObjectNotFoundError,
    StorageConfigError,
    StorageError,
    StorageUnavailableError,
)
from .local import LocalObjectStore

if TYPE_CHECKING:
    from core.settings import S3Settings, Settings

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_CONTENT_TYPE",
    "InvalidKeyError",
    "InvalidRangeError",
    "KeyConflictError",
    "LocalObjectStore",
    "ObjectInfo",
    "ObjectNotFoundError",
    "ObjectStore",
    "ObjectStream",
    "PutData",
    "StorageConfigError",
    "StorageError",
    "StorageUnavailableError",
    "normalize_prefix",
    "open_store",
    "open_store_from_settings",
    "validate_key",
]


def open_store(url: str, *, s3: S3Settings | None = None) -> ObjectStore:
    """The store ``url`` names; ``s3`` gives the endpoint and credentials of ``s3://`` URLs.

    Raises StorageConfigError for a URL that names no store. Nothing is contacted: call
    ``ping()`` for that (readiness checks do).
    """
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise StorageConfigError(url, "query strings and fragments are not supported")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise StorageConfigError(url, "a file URL has no host: use file:///ABSOLUTE/PATH")
        path = unquote(parts.path)
        if not path.startswith("/"):
            raise StorageConfigError(url, "the path must be absolute")
        return LocalObjectStore(Path(path))
    if parts.scheme == "s3":
        # Imported here so the embedded default never pays for importing boto3.
        from .s3 import S3ObjectStore

        if not parts.netloc:
            raise StorageConfigError(url, "no bucket name")
        prefix = unquote(parts.path).strip("/")
        if s3 is None:
            return S3ObjectStore(parts.netloc, prefix)
        return S3ObjectStore(
            parts.netloc,
            prefix,
            endpoint_url=s3.endpoint_url or None,
            region=s3.region,
            access_key_id=_secret(s3.access_key_id),
            secret_access_key=_secret(s3.secret_access_key),
        )
    raise StorageConfigError(url, f"unknown scheme {parts.scheme!r}")


def open_store_from_settings(settings: Settings) -> ObjectStore:
    """The store configured by ``VIGIL_STORAGE_URL`` (default ``DATA_DIR/objects``)."""
    return open_store(settings.effective_storage_url, s3=settings.s3)


def _secret(value: object) -> str | None:
    from pydantic import SecretStr

    if isinstance(value, SecretStr):
        return value.get_secret_value() or None
    return None
