"""The object store contract shared by every backend, and the rules both enforce the same way.

Keys
    A key is a ``/``-separated relative path of at most 1024 UTF-8 bytes (the S3 limit). Refused
    with InvalidKeyError, identically by every backend: an empty key; a leading ``/``; a
    backslash; an empty segment (``a//b``, a trailing ``/``); a ``.`` or ``..`` segment; control
    characters; a segment over 200 bytes (the local backend adds its own prefixes to file names
    within the 255-byte limit of file systems); a segment starting with ``.vigil-`` (reserved for
    the local backend's temporary and metadata files). Keep keys portable: no key may also be a
    folder of other keys (``a/b`` next to ``a/b/c``). The local backend raises KeyConflictError;
    S3 would accept both, so code that relies on that breaks on the embedded default.

Byte ranges (``get``)
    ``start`` and ``end`` follow Python slicing, ``data[start:end]``: ``start`` inclusive, ``end``
    exclusive. HTTP ``Range: bytes=a-b`` is ``start=a, end=b + 1``; ``bytes=a-`` is ``start=a``;
    the suffix ``bytes=-n`` (last n bytes) is ``start=-n`` (``end`` must then be ``None``).
    As in HTTP: an ``end`` past the object's end is clamped to it; a suffix longer than the
    object returns the whole object; ``start`` at or past the end, an empty range (``end <=
    start``) or any range of an empty object raise InvalidRangeError carrying the size.

Listing
    ``list(prefix)`` treats the prefix as a folder: ``list("a/b")`` (or ``"a/b/"``) yields the
    objects whose key starts with ``a/b/``, never ``a/bc/x``, so date partitions such as
    ``date=2024-01-1`` cannot pick up ``date=2024-01-10``. ``list("")`` yields everything.
    Results come sorted by key (UTF-8 byte order, as S3 sorts) and carry no content type
    (S3 listings do not return it; call ``stat``).

Content type
    ``put`` stores ``content_type`` or ``application/octet-stream``; an overwrite replaces data
    and content type together. Vigil never guesses a type from the key's extension.

Stores are safe to share between threads; callers in async code run them in a thread.
"""

from __future__ import annotations

import abc
import io
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

from .errors import InvalidKeyError, InvalidRangeError, StorageError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

DEFAULT_CHUNK_SIZE = 1024 * 1024
DEFAULT_CONTENT_TYPE = "application/octet-stream"
MAX_KEY_BYTES = 1024
MAX_SEGMENT_BYTES = 200
RESERVED_SEGMENT_PREFIX = ".vigil-"


@runtime_checkable
class Readable(Protocol):
    """A binary file-like object: an open file, ``io.BytesIO``, an upload's spooled file."""

    def read(self, size: int = ..., /) -> bytes: ...


#: What ``put`` accepts: bytes, a binary file read from its current position, or chunks.
PutData = bytes | Readable | Iterable[bytes]


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows about one object.

    ``etag`` is opaque: it changes when the content changes (the MD5 of the content for objects
    written in one piece; S3 multipart uploads have their own form). ``content_type`` is ``None``
    only in ``list`` results.
    """

    key: str
    size: int
    etag: str
    modified: datetime
    content_type: str | None = None


class ObjectStream(Iterator[bytes]):
    """The bytes of one object (or one range of it), read lazily in chunks.

    ``info`` describes the whole object; ``start`` and ``length`` the bytes this stream yields,
    which is what an HTTP handler needs for ``Content-Range`` and ``Content-Length``. The
    underlying file or connection is released when the stream is exhausted, closed, used as a
    context manager or garbage-collected.
    """

    def __init__(
        self,
        *,
        info: ObjectInfo,
        start: int,
        length: int,
        read: Callable[[int], bytes],
        close: Callable[[], None],
        chunk_size: int,
    ) -> None:
        self.info = info
        self.start = start
        self.length = length
        self._read = read
        self._close = close
        self._chunk_size = chunk_size
        self._remaining = length
        self._closed = False

    def __iter__(self) -> ObjectStream:
        return self

    def __next__(self) -> bytes:
        if self._closed or self._remaining <= 0:
            self.close()
            raise StopIteration
        try:
            chunk = self._read(min(self._chunk_size, self._remaining))
        except BaseException:
            self.close()
            raise
        if not chunk:
            self.close()
            raise StorageError(
                f"object {self.info.key!r} ended {self._remaining} bytes early "
                f"({self.length} bytes expected from offset {self.start})"
            )
        self._remaining -= len(chunk)
        return chunk

    def read_all(self) -> bytes:
        """Every remaining byte of the stream (for small objects only)."""
        return b"".join(self)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # A caller that stops iterating early (client disconnected) must not leak a file
        # descriptor or a pooled connection.
        if not getattr(self, "_closed", True):
            self.close()


class ObjectStore(abc.ABC):
    """A flat namespace of keys to immutable blobs. See the module docstring for the rules."""

    #: The store's URL, for messages and logs; never contains credentials.
    url: str

    @abc.abstractmethod
    def put(self, key: str, data: PutData, *, content_type: str | None = None) -> ObjectInfo:
        """Store ``data`` at ``key``, streaming; readers see the old or the new object, whole."""

    @abc.abstractmethod
    def get(
        self,
        key: str,
        *,
        start: int | None = None,
        end: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> ObjectStream:
        """Stream the object, or ``data[start:end]`` of it (see the module docstring).

        Raises ObjectNotFoundError or InvalidRangeError before returning.
        """

    @abc.abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """The object's size, etag, modification time and content type."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored at ``key``."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; removing a missing object is not an error."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """The objects under the folder ``prefix``, sorted by key, fetched page by page."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise StorageUnavailableError unless the store can be read and written."""

    def get_bytes(self, key: str) -> bytes:
        """The whole object in memory: for small objects (manifests, thumbnails) only."""
        with self.get(key) as stream:
            return stream.read_all()

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release connections; the store must not be used afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def validate_key(key: str) -> str:
    """Return ``key`` unchanged, or raise InvalidKeyError naming the broken rule."""
    if not isinstance(key, str):
        raise InvalidKeyError(repr(key), f"a key is a str, not {type(key).__name__}")
    if not key:
        raise InvalidKeyError(key, "empty")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidKeyError(key, "not valid UTF-8") from None
    if len(encoded) > MAX_KEY_BYTES:
        raise InvalidKeyError(key, f"{len(encoded)} bytes; the limit is {MAX_KEY_BYTES}")
    if key.startswith("/"):
        raise InvalidKeyError(key, "absolute (starts with '/'); keys are relative")
    if "\\" in key:
        raise InvalidKeyError(key, "contains a backslash; segments are separated by '/'")
    for char in key:
        if unicodedata.category(char) == "Cc":
            raise InvalidKeyError(key, f"contains the control character {char!r}")
    for segment in key.split("/"):
        if not segment:
            raise InvalidKeyError(key, "contains an empty segment ('//' or a trailing '/')")
        if segment in (".", ".."):
            raise InvalidKeyError(key, f"contains a {segment!r} segment")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise InvalidKeyError(
                key, f"segment {segment[:20]!r}... is over {MAX_SEGMENT_BYTES} bytes"
            )
        if segment.startswith(RESERVED_SEGMENT_PREFIX):
            raise InvalidKeyError(
                key, f"segments starting with {RESERVED_SEGMENT_PREFIX!r} are reserved"
            )
    return key


def normalize_prefix(prefix: str) -> str:
    """The folder ``prefix`` names, without its trailing ``/``; ``""`` for the whole store."""
    if prefix == "":
        return ""
    folder = prefix[:-1] if prefix.endswith("/") else prefix
    try:
        return validate_key(folder)
    except InvalidKeyError as exc:
        raise InvalidKeyError(prefix, f"invalid list prefix: {exc.reason}") from None


def check_range(key: str, start: int | None, end: int | None, chunk_size: int) -> None:
    """Refuse range arguments that are malformed whatever the object's size."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    if start is not None and start < 0:
        if end is not None:
            raise InvalidRangeError(key, start, end, None, "a suffix range (start < 0) has no end")
        return
    if end is not None:
        if end < 0:
            raise InvalidRangeError(key, start, end, None, "end must not be negative")
        if end <= (start or 0):
            raise InvalidRangeError(key, start, end, None, "the range is empty (end <= start)")


def resolve_range(key: str, start: int | None, end: int | None, size: int) -> tuple[int, int]:
    """(offset, length) of ``data[start:end]`` in an object of ``size`` bytes, HTTP-style."""
    if start is None and end is None:
        return 0, size
    if size == 0:
        raise InvalidRangeError(key, start, end, size, "the object is empty")
    if start is not None and start < 0:
        offset = max(0, size + start)
        return offset, size - offset
    offset = start or 0
    if offset >= size:
        raise InvalidRangeError(key, start, end, size, "start is at or past the end")
    stop = size if end is None else min(end, size)
    return offset, stop - offset


def iter_chunks(data: PutData, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
    """The non-empty chunks of ``data``, without reading a file or an iterable all at once."""
    if isinstance(data, bytes | bytearray | memoryview):
        if len(data):
            yield bytes(data) if not isinstance(data, bytes) else data
        return
    if isinstance(data, str):
        raise TypeError("put() takes bytes, a binary file or an iterable of bytes, not str")
    if isinstance(data, Readable):
        while chunk := data.read(chunk_size):
            if not isinstance(chunk, bytes):
                raise TypeError(f"the file returned {type(chunk).__name__}; open it in 'rb' mode")
            yield chunk
        return
    for chunk in data:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(f"put() got a {type(chunk).__name__} chunk; chunks must be bytes")
        if len(chunk):
            yield bytes(chunk) if not isinstance(chunk, bytes) else chunk


class ChunkReader(io.RawIOBase):
    """A read-only raw stream over chunks; wrap it in ``io.BufferedReader`` for full reads."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            # A memoryview makes the leftover of a large chunk a view, not a copy.
            self._pending = memoryview(chunk)
        target = memoryview(buffer).cast("B")
        count = min(len(target), len(self._pending))
        target[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count
