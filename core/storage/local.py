"""The embedded object store: one file per object under a root directory (``file:///PATH``).

A key maps to the file ``ROOT/KEY`` so the tree stays readable by people and tools (DuckDB can
read the lake's Parquet files in place). Beside each object, ``.vigil-meta-NAME.json`` keeps its
content type, MD5 etag, size and modification time; ``list`` never shows it. A put writes a
temporary ``.vigil-tmp-*`` file in the target's folder, fsyncs it and renames it over the target,
so readers see the whole old object or the whole new one. The metadata file is renamed after the
data: if a crash lands in between, its size and modification time no longer match the data file,
and the object is served as ``application/octet-stream`` with an etag recomputed from the bytes,
the same as for files copied into the tree by hand.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from .base import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    RESERVED_SEGMENT_PREFIX,
    ObjectInfo,
    ObjectStore,
    ObjectStream,
    PutData,
    check_range,
    iter_chunks,
    normalize_prefix,
    resolve_range,
    validate_key,
)
from .errors import (
    InvalidKeyError,
    KeyConflictError,
    ObjectNotFoundError,
    StorageError,
    StorageUnavailableError,
)

logger = logging.getLogger(__name__)

TEMP_PREFIX = RESERVED_SEGMENT_PREFIX + "tmp-"
META_PREFIX = RESERVED_SEGMENT_PREFIX + "meta-"
META_SUFFIX = ".json"
#: Mode of object files: mkstemp creates 0600, but other local readers (a web server in front
#: of the HLS tree, an analyst's DuckDB) need to read them.
FILE_MODE = 0o644
#: A concurrent delete may prune the folder a put has just created; retry that many times.
_MKDIR_ATTEMPTS = 5


@dataclass(frozen=True)
class _Meta:
    content_type: str
    etag: str
    size: int
    mtime_ns: int


class LocalObjectStore(ObjectStore):
    """Objects as files under ``root``; see the module docstring for the layout."""

    def __init__(self, root: Path, *, create: bool = True) -> None:
        if not root.is_absolute():
            raise ValueError(f"the root of a local object store must be absolute, got {root}")
        self.root = Path(os.path.normpath(root))
        self.url = self.root.as_uri()
        if create:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise self._unavailable(f"cannot create {self.root}: {exc}") from exc

    # Paths

    def _path(self, key: str) -> Path:
        path = self.root.joinpath(*validate_key(key).split("/"))
        # validate_key already rules out '..'; this guards the mapping itself against escapes.
        if os.path.commonpath([self.root, os.path.normpath(path)]) != str(self.root):
            raise InvalidKeyError(key, "resolves outside the store's root")
        return path

    @staticmethod
    def _meta_path(path: Path) -> Path:
        return path.with_name(META_PREFIX + path.name + META_SUFFIX)

    # Writing

    def put(self, key: str, data: PutData, *, content_type: str | None = None) -> ObjectInfo:
        path = self._path(key)
        stored_type = content_type or DEFAULT_CONTENT_TYPE
        fd, temp = self._create_temp(key, path)
        meta_temp: Path | None = None
        try:
            with os.fdopen(fd, "wb") as file:
                etag, size = _write_all(file, iter_chunks(data))
                os.fchmod(file.fileno(), FILE_MODE)
                file.flush()
                os.fsync(file.fileno())
            meta = _Meta(stored_type, etag, size, temp.stat().st_mtime_ns)
            meta_temp = self._write_meta_temp(path.parent, meta)
            try:
                os.replace(temp, path)
            except IsADirectoryError:
                raise KeyConflictError(key, f"{key}/ is a folder of other objects") from None
            os.replace(meta_temp, self._meta_path(path))
            _fsync_dir(path.parent)
        except BaseException:
            # Whatever failed (the caller's iterable included), leave no temporary file behind.
            temp.unlink(missing_ok=True)
            if meta_temp is not None:
                meta_temp.unlink(missing_ok=True)
            raise
        return ObjectInfo(
            key=key,
            size=meta.size,
            etag=meta.etag,
            modified=_datetime(meta.mtime_ns),
            content_type=meta.content_type,
        )

    def _create_temp(self, key: str, path: Path) -> tuple[int, Path]:
        """A temporary file in the target's folder, which rename() needs on the same disk."""
        for _ in range(_MKDIR_ATTEMPTS):
            self._make_folders(key, path)
            try:
                fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
            except FileNotFoundError:
                continue  # a concurrent delete pruned the folder we just made
            except OSError as exc:
                raise self._unavailable(f"cannot write in {path.parent}: {exc}") from exc
            return fd, Path(name)
        raise self._unavailable(f"{path.parent} keeps disappearing (concurrent deletes?)")

    def _make_folders(self, key: str, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise KeyConflictError(key, "a folder on its path is an object") from None
        except OSError as exc:
            raise self._unavailable(f"cannot create {path.parent}: {exc}") from exc
        if path.is_dir():
            raise KeyConflictError(key, f"{key}/ is a folder of other objects")

    @staticmethod
    def _write_meta_temp(folder: Path, meta: _Meta) -> Path:
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(meta.__dict__, file)
            file.flush()
            os.fsync(file.fileno())
        return Path(name)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            # Nothing stored under this key (a folder is not an object): deleting is idempotent.
            return
        except OSError as exc:
            raise self._unavailable(f"cannot delete {path}: {exc}") from exc
        self._meta_path(path).unlink(missing_ok=True)
        self._prune(path.parent)

    def _prune(self, folder: Path) -> None:
        """Remove folders left empty, so a later key may use their name for an object."""
        while folder != self.root:
            try:
                folder.rmdir()
            except OSError as exc:
                # Not empty (the usual case), or gone already: the tidy-up stops here. An empty
                # folder left behind costs nothing but a KeyConflictError on that exact name.
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                    logger.warning("could not remove empty folder %s: %s", folder, exc)
                return
            folder = folder.parent

    # Reading

    def get(
        self,
        key: str,
        *,
        start: int | None = None,
        end: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> ObjectStream:
        path = self._path(key)
        check_range(key, start, end, chunk_size)
        file = self._open(key, path)
        try:
            info = self._info(key, path, os.fstat(file.fileno()), file=file)
            offset, length = resolve_range(key, start, end, info.size)
            file.seek(offset)
        except BaseException:
            file.close()
            raise
        return ObjectStream(
            info=info,
            start=offset,
            length=length,
            read=file.read,
            close=file.close,
            chunk_size=chunk_size,
        )

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            status = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFoundError(key) from None
        except OSError as exc:
            raise self._unavailable(f"cannot read {path}: {exc}") from exc
        if not stat.S_ISREG(status.st_mode):
            raise ObjectNotFoundError(key)
        return self._info(key, path, status)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        folder_key = normalize_prefix(prefix)
        folder = self._path(folder_key) if folder_key else self.root
        return self._walk(folder, folder_key)

    def _walk(self, folder: Path, folder_key: str) -> Iterator[ObjectInfo]:
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise self._unavailable(f"cannot list {folder}: {exc}") from exc
        # Sorting a folder's entries by "name/" for folders and "name" for files yields keys in
        # the same global byte order as S3 ("a-b/x" < "a/x" < "a0"), one folder at a time.
        sortable = [
            (entry.name + "/" if entry.is_dir(follow_symlinks=False) else entry.name, entry)
            for entry in entries
            if not entry.name.startswith(RESERVED_SEGMENT_PREFIX)
        ]
        sortable.sort(key=lambda pair: pair[0].encode("utf-8", "surrogateescape"))
        for sort_name, entry in sortable:
            key = f"{folder_key}/{entry.name}" if folder_key else entry.name
            if sort_name.endswith("/"):
                yield from self._walk(Path(entry.path), key)
                continue
            if not entry.is_file():
                continue
            try:
                validate_key(key)
            except InvalidKeyError as exc:
                logger.warning("not listing %s: %s", entry.path, exc.reason)
                continue
            info = self._info(key, Path(entry.path), entry.stat())
            yield ObjectInfo(key=key, size=info.size, etag=info.etag, modified=info.modified)

    def ping(self) -> None:
        if not self.root.is_dir():
            raise self._unavailable(f"{self.root} is not a directory")
        if not os.access(self.root, os.R_OK | os.W_OK | os.X_OK):
            raise self._unavailable(f"{self.root} is not readable and writable by this process")

    # Helpers

    def _open(self, key: str, path: Path) -> BinaryIO:
        try:
            return path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFoundError(key) from None
        except OSError as exc:
            raise self._unavailable(f"cannot read {path}: {exc}") from exc

    def _info(
        self, key: str, path: Path, status: os.stat_result, *, file: BinaryIO | None = None
    ) -> ObjectInfo:
        meta = self._read_meta(path)
        if meta is not None and (meta.size, meta.mtime_ns) == (
            status.st_size,
            status.st_mtime_ns,
        ):
            content_type, etag = meta.content_type, meta.etag
        else:
            # No metadata (a file copied in by hand) or metadata of another version (a crash
            # between the two renames of a put): the bytes themselves are the truth.
            content_type, etag = DEFAULT_CONTENT_TYPE, self._hash(path, file)
        return ObjectInfo(
            key=key,
            size=status.st_size,
            etag=etag,
            modified=_datetime(status.st_mtime_ns),
            content_type=content_type,
        )

    def _read_meta(self, path: Path) -> _Meta | None:
        try:
            raw = json.loads(self._meta_path(path).read_text(encoding="utf-8"))
            return _Meta(
                content_type=str(raw["content_type"]),
                etag=str(raw["etag"]),
                size=int(raw["size"]),
                mtime_ns=int(raw["mtime_ns"]),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("ignoring unreadable metadata of %s: %s", path, exc)
            return None

    def _hash(self, path: Path, file: BinaryIO | None) -> str:
        # Hash the open descriptor when there is one, so the etag matches the bytes served.
        if file is None:
            with path.open("rb") as opened:
                return _md5_of(opened)
        position = file.tell()
        try:
            return _md5_of(file)
        finally:
            file.seek(position)

    def _unavailable(self, reason: str) -> StorageError:
        return StorageUnavailableError(self.url, reason)


def _write_all(file: BinaryIO, chunks: Iterator[bytes]) -> tuple[str, int]:
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    for chunk in chunks:
        file.write(chunk)
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _md5_of(file: BinaryIO) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    file.seek(0)
    while chunk := file.read(DEFAULT_CHUNK_SIZE):
        digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _datetime(mtime_ns: int) -> datetime:
    return datetime.fromtimestamp(mtime_ns / 1e9, tz=UTC)
