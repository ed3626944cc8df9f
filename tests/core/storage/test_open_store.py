"""Choosing a backend from a URL and from the settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from core.settings import S3Settings, load_settings
from core.storage import (
    LocalObjectStore,
    StorageConfigError,
    open_store,
    open_store_from_settings,
)
from core.storage.s3 import S3ObjectStore


def test_file_url(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path}/my%20objects")

    assert isinstance(store, LocalObjectStore)
    assert store.root == tmp_path / "my objects"


@pytest.mark.parametrize(
    "url",
    [
        "file://relative/path",
        "file:relative",
        "ftp://host/x",
        "s3://",
        "s3://UPPER-case",
        "s3://ab",
        "s3://bucket/a//b",
        "file:///tmp/x?mode=fast",
    ],
)
def test_urls_that_name_no_store(url: str) -> None:
    with pytest.raises(StorageConfigError, match="VIGIL_STORAGE_URL"):
        open_store(url)


def test_s3_url_takes_endpoint_and_credentials_from_settings() -> None:
    settings = S3Settings(
        endpoint_url="http://minio:9000",
        region="eu-west-1",
        access_key_id=SecretStr("key-id"),
        secret_access_key=SecretStr("secret"),
    )

    store = open_store("s3://vigil/prod/", s3=settings)

    assert isinstance(store, S3ObjectStore)
    assert (store.bucket, store.prefix, store.url) == ("vigil", "prod", "s3://vigil/prod")
    client: Any = store._client
    credentials = client._request_signer._credentials
    assert (credentials.access_key, credentials.secret_key) == ("key-id", "secret")
    assert client.meta.endpoint_url == "http://minio:9000"
    assert client.meta.region_name == "eu-west-1"
    store.close()


def test_default_settings_give_a_directory_in_the_data_dir(tmp_path: Path) -> None:
    store = open_store_from_settings(load_settings(data_dir=tmp_path))

    assert isinstance(store, LocalObjectStore)
    assert store.root == tmp_path.resolve() / "objects"


def test_settings_with_an_s3_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_STORAGE_URL", "s3://vigil")
    monkeypatch.setenv("VIGIL_S3__ENDPOINT_URL", "http://minio:9000")

    store = open_store_from_settings(load_settings())

    assert isinstance(store, S3ObjectStore)
    assert store.bucket == "vigil"
    store.close()
