"""The object store contract, run unchanged against every backend.

``ObjectStoreContract`` holds the behaviour; each ``Test*`` subclass only says how to open its
backend. Backend-specific behaviour lives in ``test_local.py`` and ``test_s3.py``.
"""

from __future__ import annotations

import gc
import hashlib
import io
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from core.storage import (
    DEFAULT_CONTENT_TYPE,
    InvalidKeyError,
    InvalidRangeError,
    LocalObjectStore,
    ObjectNotFoundError,
    ObjectStore,
)
from core.storage.s3 import MIB, S3ObjectStore

from .conftest import CREDENTIALS

#: 1 KiB whose every byte says where it is, so a wrong offset cannot go unnoticed.
PATTERN = bytes(range(256)) * 4

BAD_KEYS = [
    "",
    "/abs/path",
    "a//b",
    "a/b/",
    "../escape",
    "a/../../escape",
    "a/./b",
    ".",
    "..",
    "a\\b",
    "new\nline",
    "tab\there",
    "nul\x00",
    "del\x7f",
    "x" * 201,
    "a/" * 520 + "b",
    ".vigil-meta-x",
    "a/.vigil-tmp-1",
    "lone\ud800surrogate",
]

GOOD_KEYS = [
    "videos/0001/original.mp4",
    "lake/events/date=2024-01-01/part-0.parquet",
    "a b/ünïcödé/名前.txt",
    ".hidden/file",
    "x" * 200,
]


def md5_hex(data: bytes) -> str:
    """The etag of an object written in one piece."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def generated_chunks(total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """``total`` deterministic bytes, produced a chunk at a time (never held whole)."""
    counter = 0
    while total > 0:
        block = hashlib.sha256(counter.to_bytes(8, "big")).digest() * (chunk // 32)
        block = block[: min(chunk, total)]
        total -= len(block)
        counter += 1
        yield block


class ObjectStoreContract:
    """Behaviour every ObjectStore must show. Subclasses provide the ``store`` fixture."""

    #: The largest Python allocation peak a streaming put may cause on this backend, whatever
    #: the object's size (the test's object is twice as large as any of these bounds).
    max_put_peak_bytes: int

    @pytest.fixture
    def store(self) -> ObjectStore:
        raise NotImplementedError

    # put / get round trips

    def test_bytes_round_trip(self, store: ObjectStore) -> None:
        before = datetime.now(UTC) - timedelta(seconds=5)
        info = store.put("clips/a.txt", b"hello world", content_type="text/plain")

        assert (info.key, info.size, info.content_type) == ("clips/a.txt", 11, "text/plain")
        assert info.etag == md5_hex(b"hello world")
        assert before <= info.modified <= datetime.now(UTC) + timedelta(seconds=5)
        assert store.get_bytes("clips/a.txt") == b"hello world"
        assert store.stat("clips/a.txt") == info

    def test_file_object_is_read_from_its_position(
        self, store: ObjectStore, tmp_path: Path
    ) -> None:
        buffer = io.BytesIO(b"skip:payload")
        buffer.seek(5)
        store.put("from-bytesio", buffer)
        on_disk = tmp_path / "upload.bin"
        on_disk.write_bytes(PATTERN * 3)
        with on_disk.open("rb") as file:
            info = store.put("from-file", file)

        assert store.get_bytes("from-bytesio") == b"payload"
        assert store.get_bytes("from-file") == PATTERN * 3
        assert info.size == len(PATTERN) * 3

    def test_iterable_of_chunks(self, store: ObjectStore) -> None:
        chunks = [b"one,", b"", bytearray(b"two,"), memoryview(b"three")]

        info = store.put("chunks", iter(chunks))  # type: ignore[arg-type]

        assert store.get_bytes("chunks") == b"one,two,three"
        assert info.size == 13

    def test_get_streams_in_chunks_of_the_requested_size(self, store: ObjectStore) -> None:
        store.put("pattern", PATTERN)

        chunks = list(store.get("pattern", chunk_size=300))

        assert [len(chunk) for chunk in chunks][:3] == [300, 300, 300]
        assert b"".join(chunks) == PATTERN

    def test_empty_object(self, store: ObjectStore) -> None:
        info = store.put("empty", b"")

        assert info.size == 0
        assert info.etag == md5_hex(b"")
        assert list(store.get("empty")) == []
        with pytest.raises(InvalidRangeError) as caught:
            store.get("empty", start=0)
        assert caught.value.size == 0

    def test_large_put_streams_without_holding_the_object(self, store: ObjectStore) -> None:
        total = 48 * MIB
        expected = hashlib.md5(usedforsecurity=False)
        for chunk in generated_chunks(total):
            expected.update(chunk)

        tracemalloc.start()
        try:
            info = store.put("big/video.mp4", generated_chunks(total), content_type="video/mp4")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

        assert peak < self.max_put_peak_bytes, f"put held {peak / MIB:.1f} MiB"
        assert info.size == total
        assert store.stat("big/video.mp4") == info
        read_back = hashlib.md5(usedforsecurity=False)
        size = 0
        for chunk in store.get("big/video.mp4"):
            read_back.update(chunk)
            size += len(chunk)
        assert (size, read_back.hexdigest()) == (total, expected.hexdigest())

    # byte ranges

    @pytest.mark.parametrize(
        ("start", "end", "offset", "length"),
        [
            pytest.param(100, None, 100, 924, id="from-offset"),
            pytest.param(100, 200, 100, 100, id="start-and-end"),
            pytest.param(None, 10, 0, 10, id="first-bytes"),
            pytest.param(-16, None, 1008, 16, id="last-bytes"),
            pytest.param(1023, None, 1023, 1, id="last-byte"),
            pytest.param(1000, 5000, 1000, 24, id="end-clamped"),
            pytest.param(-5000, None, 0, 1024, id="suffix-longer-than-object"),
        ],
    )
    def test_ranges_follow_slicing(
        self, store: ObjectStore, start: int | None, end: int | None, offset: int, length: int
    ) -> None:
        store.put("ranged", PATTERN, content_type="application/x-test")

        with store.get("ranged", start=start, end=end, chunk_size=100) as stream:
            assert (stream.start, stream.length) == (offset, length)
            assert stream.info.size == len(PATTERN)
            assert stream.info.content_type == "application/x-test"
            assert stream.read_all() == PATTERN[offset : offset + length]
        assert PATTERN[start:end] == PATTERN[offset : offset + length]  # the slicing promise

    @pytest.mark.parametrize(
        ("start", "end", "size"),
        [
            pytest.param(1024, None, 1024, id="start-at-end"),
            pytest.param(5000, None, 1024, id="start-past-end"),
            pytest.param(5000, 6000, 1024, id="window-past-end"),
            pytest.param(10, 10, None, id="empty-range"),
            pytest.param(10, 5, None, id="end-before-start"),
            pytest.param(None, -1, None, id="negative-end"),
            pytest.param(-10, 20, None, id="suffix-with-end"),
        ],
    )
    def test_unsatisfiable_ranges(
        self, store: ObjectStore, start: int | None, end: int | None, size: int | None
    ) -> None:
        store.put("ranged", PATTERN)

        with pytest.raises(InvalidRangeError) as caught:
            store.get("ranged", start=start, end=end)

        assert caught.value.size == size

    # stat / exists / delete

    def test_missing_object(self, store: ObjectStore) -> None:
        with pytest.raises(ObjectNotFoundError) as caught:
            store.get("no/such/key")  # raised by the call itself, before any iteration
        assert caught.value.key == "no/such/key"
        with pytest.raises(ObjectNotFoundError):
            store.stat("no/such/key")
        assert not store.exists("no/such/key")

    def test_delete_is_idempotent_and_spares_neighbours(self, store: ObjectStore) -> None:
        store.put("hls/1/a.ts", b"a")
        store.put("hls/1/b.ts", b"b")

        store.delete("hls/1/a.ts")
        store.delete("hls/1/a.ts")
        store.delete("never/stored")

        assert not store.exists("hls/1/a.ts")
        assert store.exists("hls/1/b.ts")
        with pytest.raises(ObjectNotFoundError):
            store.get("hls/1/a.ts")
        assert [info.key for info in store.list("hls")] == ["hls/1/b.ts"]

    def test_a_folder_is_not_an_object(self, store: ObjectStore) -> None:
        store.put("folder/child", b"x")

        assert not store.exists("folder")
        with pytest.raises(ObjectNotFoundError):
            store.stat("folder")
        with pytest.raises(ObjectNotFoundError):
            store.get("folder")

    # content type and overwrite

    def test_content_type_is_kept_and_defaults_to_octet_stream(self, store: ObjectStore) -> None:
        store.put("playlist.m3u8", b"#EXTM3U", content_type="application/vnd.apple.mpegurl")
        store.put("no-type.txt", b"?")

        assert store.stat("playlist.m3u8").content_type == "application/vnd.apple.mpegurl"
        # No guessing from the extension: the caller says what it stored.
        assert store.stat("no-type.txt").content_type == DEFAULT_CONTENT_TYPE

    def test_overwrite_replaces_data_and_content_type(self, store: ObjectStore) -> None:
        first = store.put("thumb", b"a much longer first version", content_type="image/png")

        second = store.put("thumb", b"short")

        assert store.get_bytes("thumb") == b"short"
        assert second.size == 5
        assert second.etag != first.etag
        assert store.stat("thumb").content_type == DEFAULT_CONTENT_TYPE

    def test_failed_put_leaves_the_previous_object(self, store: ObjectStore) -> None:
        store.put("report.json", b"old")

        def broken() -> Iterator[bytes]:
            yield b"new and incomplete"
            raise RuntimeError("upload connection lost")

        with pytest.raises(RuntimeError, match="upload connection lost"):
            store.put("report.json", broken())

        assert store.get_bytes("report.json") == b"old"

    # listing

    def test_list_is_a_sorted_folder_listing(self, store: ObjectStore) -> None:
        keys = ["a/b/2", "a/bc/x", "a/b/sub/3", "a0", "a/b-c/y", "a/b/1", "z", "ü/x", "a/b1"]
        for index, key in enumerate(keys):
            store.put(key, b"x" * index)

        listed = list(store.list("a/b"))

        assert [(info.key, info.size) for info in listed] == [
            ("a/b/1", 5),
            ("a/b/2", 0),
            ("a/b/sub/3", 2),
        ]
        assert [info.key for info in store.list("a/b/")] == ["a/b/1", "a/b/2", "a/b/sub/3"]
        assert [info.key for info in store.list("")] == sorted(keys)
        assert all(info.content_type is None for info in listed)
        assert listed[0].etag == store.stat("a/b/1").etag

    def test_list_of_nothing(self, store: ObjectStore) -> None:
        store.put("a/b", b"x")

        assert list(store.list("missing")) == []
        assert list(store.list("a/b")) == []  # an object, not a folder

    # keys

    @pytest.mark.parametrize("key", BAD_KEYS)
    def test_invalid_keys_are_refused_everywhere(self, store: ObjectStore, key: str) -> None:
        for call in (
            lambda: store.put(key, b"x"),
            lambda: store.get(key),
            lambda: store.stat(key),
            lambda: store.exists(key),
            lambda: store.delete(key),
        ):
            with pytest.raises(InvalidKeyError):
                call()

    @pytest.mark.parametrize("prefix", ["/a", "a//b", "../up", "a\\b", "a/./b"])
    def test_invalid_list_prefixes_are_refused(self, store: ObjectStore, prefix: str) -> None:
        with pytest.raises(InvalidKeyError):
            store.list(prefix)

    def test_valid_unusual_keys_round_trip(self, store: ObjectStore) -> None:
        for key in GOOD_KEYS:
            store.put(key, key.encode())

        for key in GOOD_KEYS:
            assert store.get_bytes(key) == key.encode()
        assert [info.key for info in store.list()] == sorted(GOOD_KEYS)

    # resources and readiness

    def test_abandoned_streams_release_their_resources(self, store: ObjectStore) -> None:
        store.put("pattern", PATTERN)

        unused = store.get("pattern")
        partly = store.get("pattern", chunk_size=10)
        next(partly)
        del unused, partly
        gc.collect()  # a leaked file or socket would surface as a ResourceWarning (an error)

        with store.get("pattern", chunk_size=10) as stream:
            next(stream)
        assert list(stream) == []

    def test_ping(self, store: ObjectStore) -> None:
        store.ping()


class TestLocalObjectStore(ObjectStoreContract):
    max_put_peak_bytes = 4 * MIB

    @pytest.fixture
    def store(self, tmp_path: Path) -> ObjectStore:
        return LocalObjectStore(tmp_path / "objects")


@pytest.mark.s3
class TestS3ObjectStore(ObjectStoreContract):
    # Two 5 MiB parts in memory, plus boto3's first read that decides single PUT or multipart
    # (about 19 MiB measured); holding the object would take 48 MiB.
    max_put_peak_bytes = 24 * MIB

    @pytest.fixture
    def store(
        self, s3_endpoint: str, s3_bucket: str, boto_session: boto3.session.Session
    ) -> Iterator[ObjectStore]:
        # A key prefix, so every test also checks that it is added and stripped consistently.
        store = S3ObjectStore(
            s3_bucket,
            "tenant",
            endpoint_url=s3_endpoint,
            access_key_id=CREDENTIALS["aws_access_key_id"],
            secret_access_key=CREDENTIALS["aws_secret_access_key"],
            multipart_threshold=5 * MIB,
            multipart_chunksize=5 * MIB,
            max_in_memory_parts=2,
            session=boto_session,
        )
        yield store
        store.close()
