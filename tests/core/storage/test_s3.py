"""What only the S3 backend does: key prefixes, multipart uploads, pages, server errors."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from boto3.session import Session

from core.storage import ObjectNotFoundError, StorageUnavailableError
from core.storage.s3 import MIB, S3ObjectStore

from .conftest import CREDENTIALS
from .test_contract import generated_chunks

pytestmark = pytest.mark.s3


def open_s3(
    endpoint: str, bucket: str, prefix: str = "", *, session: Session, **options: Any
) -> S3ObjectStore:
    return S3ObjectStore(
        bucket,
        prefix,
        endpoint_url=endpoint,
        access_key_id=CREDENTIALS["aws_access_key_id"],
        secret_access_key=CREDENTIALS["aws_secret_access_key"],
        session=session,
        **options,
    )


def count_calls(store: S3ObjectStore, operation: str) -> list[str]:
    """A list that grows by one entry per ``operation`` request the store sends."""
    calls: list[str] = []
    store._client.meta.events.register(
        f"before-call.s3.{operation}", lambda **_: calls.append(operation)
    )
    return calls


@pytest.fixture
def store(s3_endpoint: str, s3_bucket: str, boto_session: Session) -> Iterator[S3ObjectStore]:
    with open_s3(s3_endpoint, s3_bucket, session=boto_session) as opened:
        assert isinstance(opened, S3ObjectStore)
        yield opened


def test_prefixes_keep_deployments_apart(
    s3_endpoint: str, s3_bucket: str, boto_session: Session
) -> None:
    with (
        open_s3(s3_endpoint, s3_bucket, "tenant-a", session=boto_session) as a,
        open_s3(s3_endpoint, s3_bucket, "tenant-b", session=boto_session) as b,
        open_s3(s3_endpoint, s3_bucket, session=boto_session) as whole,
    ):
        a.put("videos/1", b"a1")
        b.put("videos/1", b"b1")

        assert a.get_bytes("videos/1") == b"a1"
        assert [info.key for info in a.list()] == ["videos/1"]
        assert [info.key for info in whole.list()] == ["tenant-a/videos/1", "tenant-b/videos/1"]
        a.delete("videos/1")
        assert b.exists("videos/1")


def test_large_puts_are_multipart(s3_endpoint: str, s3_bucket: str, boto_session: Session) -> None:
    with open_s3(
        s3_endpoint,
        s3_bucket,
        multipart_threshold=5 * MIB,
        multipart_chunksize=5 * MIB,
        session=boto_session,
    ) as store:
        parts = count_calls(store, "UploadPart")
        info = store.put("big", generated_chunks(12 * MIB))

    assert len(parts) == 3
    assert info.size == 12 * MIB


def test_small_puts_are_one_request(store: S3ObjectStore) -> None:
    puts = count_calls(store, "PutObject")
    parts = count_calls(store, "UploadPart")

    store.put("small", b"x" * 1000)

    assert (len(puts), len(parts)) == (1, 0)


def test_list_pages_through_every_object(
    s3_endpoint: str, s3_bucket: str, boto_session: Session
) -> None:
    with open_s3(s3_endpoint, s3_bucket, list_page_size=2, session=boto_session) as store:
        for index in range(5):
            store.put(f"events/{index}", b"e")
        requests = count_calls(store, "ListObjectsV2")

        keys = [info.key for info in store.list("events")]

    assert keys == [f"events/{index}" for index in range(5)]
    assert len(requests) == 3


def test_list_skips_keys_that_break_the_key_rules(
    store: S3ObjectStore, s3_client: Any, s3_bucket: str
) -> None:
    # Written by another tool: listing it would hand callers a key that every call refuses.
    store.put("clips/a", b"a")
    s3_client.put_object(Bucket=s3_bucket, Key="clips/bad\\key", Body=b"")

    assert [info.key for info in store.list("clips")] == ["clips/a"]


def test_a_missing_bucket_is_an_unavailable_store(s3_endpoint: str, boto_session: Session) -> None:
    with open_s3(s3_endpoint, "vigil-no-such-bucket", session=boto_session) as store:
        with pytest.raises(StorageUnavailableError, match="vigil-no-such-bucket"):
            store.ping()
        with pytest.raises(StorageUnavailableError, match="does not exist"):
            store.get("anything")
        with pytest.raises(StorageUnavailableError, match="does not exist"):
            store.put("anything", b"x")


def test_an_unreachable_endpoint_names_the_url(boto_session: Session) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
    with open_s3(
        endpoint, "vigil", max_attempts=1, connect_timeout=1, session=boto_session
    ) as store:
        with pytest.raises(StorageUnavailableError, match=f"s3://vigil at {endpoint}"):
            store.ping()
        with pytest.raises(StorageUnavailableError):
            store.stat("anything")


def test_missing_key_is_not_found_not_unavailable(store: S3ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.stat("missing")
    with pytest.raises(ObjectNotFoundError):
        store.get("missing", start=10)
