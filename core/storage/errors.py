"""Object store errors.

StorageError
 ├── ObjectNotFoundError       get/stat on a key that holds no object
 ├── InvalidKeyError           a key (or list prefix) that breaks the key rules in ``base``
 ├── KeyConflictError          a key that is a path prefix of another key (``a/b`` and ``a/b/c``)
 ├── InvalidRangeError         a byte range that is malformed or starts past the object's end
 ├── StorageUnavailableError   the store cannot be reached or refuses us; names the URL and why
 └── StorageConfigError        a storage URL that cannot name a store
"""

from __future__ import annotations

from core.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    RangeNotSatisfiableError,
    UnavailableError,
    VigilError,
)


class StorageError(VigilError):
    """Base of every object store error."""

    code = "storage_error"


class ObjectNotFoundError(StorageError, NotFoundError):
    code = "object_not_found"

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"no object at key {key!r}", details={"key": key})


class InvalidKeyError(StorageError, InvalidInputError):
    code = "invalid_object_key"

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(
            f"invalid object key {key!r}: {reason}", details={"key": key, "reason": reason}
        )


class KeyConflictError(StorageError, ConflictError):
    code = "object_key_conflict"

    """Raised by the local backend, where a key cannot be both a file and a folder of others."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(
            f"object key {key!r} conflicts with existing objects: {reason}",
            details={"key": key, "reason": reason},
        )


class InvalidRangeError(StorageError, RangeNotSatisfiableError):
    code = "range_not_satisfiable"

    """The requested range cannot be served; HTTP maps it to 416 with ``bytes */size``.

    ``size`` is the object's size when it is known (the range was checked against the object),
    ``None`` when the arguments themselves are malformed.
    """

    def __init__(
        self, key: str, start: int | None, end: int | None, size: int | None, reason: str
    ) -> None:
        self.key = key
        self.start = start
        self.end = end
        self.size = size
        self.reason = reason
        of_size = "" if size is None else f" of a {size}-byte object"
        super().__init__(
            f"range start={start} end={end}{of_size} at {key!r}: {reason}",
            details={"key": key, "start": start, "end": end, "size": size},
        )


class StorageUnavailableError(StorageError, UnavailableError):
    code = "storage_unavailable"

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(
            f"object store {url} unavailable: {reason}", details={"url": url, "reason": reason}
        )


class StorageConfigError(StorageError, InvalidInputError):
    code = "storage_config"

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(
            f"storage URL {url!r}: {reason} (expected file:///ABSOLUTE/PATH or "
            "s3://BUCKET[/PREFIX]; set VIGIL_STORAGE_URL)"
        )
