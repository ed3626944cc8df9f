"""What only the local directory backend does: its files on disk, atomic writes, key conflicts."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.storage import (
    DEFAULT_CONTENT_TYPE,
    KeyConflictError,
    LocalObjectStore,
    ObjectNotFoundError,
    StorageUnavailableError,
    open_store,
)

from .test_contract import md5_hex


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "objects"


@pytest.fixture
def store(root: Path) -> LocalObjectStore:
    return LocalObjectStore(root)


def files_under(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_objects_are_plain_files_other_tools_can_read(store: LocalObjectStore, root: Path) -> None:
    store.put("lake/date=2024-01-01/part-0.parquet", b"PAR1", content_type="application/x-parquet")

    data_file = root / "lake" / "date=2024-01-01" / "part-0.parquet"
    assert data_file.read_bytes() == b"PAR1"
    assert stat.S_IMODE(data_file.stat().st_mode) == 0o644
    # Only the object and its metadata sidecar: no temporary file survives a put.
    assert files_under(root) == [
        "lake/date=2024-01-01/.vigil-meta-part-0.parquet.json",
        "lake/date=2024-01-01/part-0.parquet",
    ]
    assert [info.key for info in store.list()] == ["lake/date=2024-01-01/part-0.parquet"]


def test_failed_put_leaves_no_temporary_file(store: LocalObjectStore, root: Path) -> None:
    def broken() -> Iterator[bytes]:
        yield b"partial"
        raise OSError("client went away")

    with pytest.raises(OSError, match="client went away"):
        store.put("uploads/u1", broken())

    assert files_under(root) == []
    assert not store.exists("uploads/u1")


def test_a_key_cannot_be_an_object_and_a_folder(store: LocalObjectStore) -> None:
    store.put("a/b", b"object")
    with pytest.raises(KeyConflictError):
        store.put("a/b/c", b"under an object")

    store.put("x/y/z", b"deep")
    with pytest.raises(KeyConflictError):
        store.put("x/y", b"over a folder")


def test_delete_removes_empty_folders_so_their_names_free_up(
    store: LocalObjectStore, root: Path
) -> None:
    store.put("hls/v1/720p/seg-1.ts", b"1")
    store.put("hls/v2/seg-1.ts", b"2")

    store.delete("hls/v1/720p/seg-1.ts")

    assert not (root / "hls" / "v1").exists()
    assert (root / "hls" / "v2").is_dir()
    store.put("hls/v1", b"now an object")  # no KeyConflictError: the folder is gone
    store.delete("hls")  # a folder name: nothing to delete, nothing removed
    assert store.exists("hls/v2/seg-1.ts")


def test_files_copied_in_by_hand_are_objects(store: LocalObjectStore, root: Path) -> None:
    (root / "imported").mkdir()
    (root / "imported" / "clip.mp4").write_bytes(b"raw bytes")

    info = store.stat("imported/clip.mp4")

    assert info.size == 9
    assert info.etag == md5_hex(b"raw bytes")
    assert info.content_type == DEFAULT_CONTENT_TYPE
    assert [item.key for item in store.list("imported")] == ["imported/clip.mp4"]


def test_metadata_of_another_version_is_not_trusted(store: LocalObjectStore, root: Path) -> None:
    store.put("doc.json", b'{"v": 1}', content_type="application/json")
    # What a crash between the data rename and the metadata rename leaves: new bytes, old sidecar.
    (root / "doc.json").write_bytes(b'{"v": 22}')

    info = store.stat("doc.json")

    assert info.etag == md5_hex(b'{"v": 22}')
    assert info.content_type == DEFAULT_CONTENT_TYPE
    with store.get("doc.json") as stream:
        assert stream.info == info
        assert stream.read_all() == b'{"v": 22}'


def test_a_file_in_the_way_of_a_key_is_not_found(store: LocalObjectStore) -> None:
    store.put("a", b"file")

    with pytest.raises(ObjectNotFoundError):
        store.stat("a/b")
    assert not store.exists("a/b")
    store.delete("a/b")
    assert list(store.list("a")) == []


def test_open_store_creates_the_root(tmp_path: Path) -> None:
    root = tmp_path / "var" / "objects"

    store = open_store(root.as_uri())

    assert root.is_dir()
    store.ping()


def test_ping_fails_when_the_root_is_gone(store: LocalObjectStore, root: Path) -> None:
    root.rmdir()

    with pytest.raises(StorageUnavailableError, match=str(root)):
        store.ping()


def test_ping_fails_when_the_root_is_not_a_directory(store: LocalObjectStore, root: Path) -> None:
    root.rmdir()
    root.write_bytes(b"not a directory")

    with pytest.raises(StorageUnavailableError, match="not a directory"):
        store.ping()
