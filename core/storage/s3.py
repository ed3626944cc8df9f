"""The scale-out object store: any S3-compatible service (MinIO, Ceph, AWS) via boto3.

``s3://BUCKET[/PREFIX]`` names the bucket and an optional key prefix, so several deployments can
share a bucket. The bucket must exist (compose's ``createbucket`` service makes it); ``ping``
says so when it does not. Large puts go through boto3's managed transfer, which switches to a
multipart upload past ``multipart_threshold`` and holds at most ``max_in_memory_parts`` parts of
a non-seekable stream in memory.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from datetime import UTC
from typing import IO, TYPE_CHECKING, Any, NoReturn, cast

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .base import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    ChunkReader,
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
    InvalidRangeError,
    ObjectNotFoundError,
    StorageConfigError,
    StorageError,
    StorageUnavailableError,
)

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_NOT_FOUND = {"NoSuchKey", "NotFound", "404"}
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"}
_CONTENT_RANGE_TOTAL = re.compile(r"/(\d+)$")


class S3ObjectStore(ObjectStore):
    """Objects in one bucket, under an optional key prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        multipart_threshold: int = 8 * MIB,
        multipart_chunksize: int = 8 * MIB,
        max_concurrency: int = 4,
        max_in_memory_parts: int = 4,
        list_page_size: int = 1000,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 3,
        session: boto3.session.Session | None = None,
    ) -> None:
        """Open the store; nothing is contacted until the first call (``ping`` checks).

        ``session``: a boto3 session to create the client from. Stores made from one session
        share its loaded service models (the first client costs ~0.1 s, the next ~0.01 s);
        boto3 sessions are not thread-safe, so create such stores from one thread.
        """
        self.url = f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"
        if not _BUCKET_NAME.match(bucket):
            raise StorageConfigError(
                self.url, f"{bucket!r} is not a bucket name (3-63 of a-z 0-9 . -)"
            )
        if prefix:
            try:
                validate_key(prefix)
            except InvalidKeyError as exc:
                raise StorageConfigError(self.url, f"invalid key prefix: {exc.reason}") from None
        if multipart_chunksize < 5 * MIB:
            # S3 refuses parts under 5 MiB (all but the last), so a smaller size fails at run time.
            raise ValueError(
                f"multipart_chunksize must be at least 5 MiB, got {multipart_chunksize}"
            )
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self._where = f"{self.url} at {endpoint_url or 'AWS ' + region}"
        self._list_page_size = list_page_size
        config = Config(
            # MinIO, Ceph and test servers are reached by host:port, not bucket.host.
            s3={"addressing_style": "path"},
            # Newer boto3 adds CRC checksums that several S3-compatible servers reject.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "max_attempts": max_attempts},
        )
        # Never boto3's default session: it is shared process-wide and not thread-safe.
        session = session or boto3.session.Session()
        self._client: S3Client = session.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=config,
        )
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=max_concurrency,
            # The CRT client would ignore the memory bound below.
            preferred_transfer_client="classic",
        )
        self._transfer.max_in_memory_upload_chunks = max_in_memory_parts

    def _full_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    # Writing

    def put(self, key: str, data: PutData, *, content_type: str | None = None) -> ObjectInfo:
        full_key = self._full_key(validate_key(key))
        body = self._as_file(data)
        try:
            self._client.upload_fileobj(
                body,
                self.bucket,
                full_key,
                ExtraArgs={"ContentType": content_type or DEFAULT_CONTENT_TYPE},
                Config=self._transfer,
            )
        except S3UploadFailedError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError | BotoCoreError):
                self._raise(cause, key)
            raise StorageError(f"{self._where}: upload of {key!r} failed: {exc}") from exc
        except (ClientError, BotoCoreError) as exc:
            self._raise(exc, key)
        # upload_fileobj returns nothing; the HEAD gives the etag and time the server assigned.
        return self.stat(key)

    def _as_file(self, data: PutData) -> IO[bytes]:
        if isinstance(data, bytes | bytearray | memoryview):
            return io.BytesIO(data)
        if isinstance(data, io.TextIOBase):
            raise TypeError("put() got a text file; open it in 'rb' mode")
        if isinstance(data, io.IOBase) and data.seekable():
            # boto3 reads seekable files part by part, from their current position.
            return cast(IO[bytes], data)
        # Other streams and iterables: a buffered reader returns whole parts (short reads
        # would make S3 refuse a part under 5 MiB in the middle of a multipart upload).
        return io.BufferedReader(ChunkReader(iter_chunks(data)), buffer_size=DEFAULT_CHUNK_SIZE)

    def delete(self, key: str) -> None:
        try:
            # S3 answers 204 for missing keys too: deleting is idempotent by nature.
            self._client.delete_object(Bucket=self.bucket, Key=self._full_key(validate_key(key)))
        except (ClientError, BotoCoreError) as exc:
            self._raise(exc, key)

    # Reading

    def get(
        self,
        key: str,
        *,
        start: int | None = None,
        end: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> ObjectStream:
        full_key = self._full_key(validate_key(key))
        check_range(key, start, end, chunk_size)
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": full_key}
        byte_range = _http_range(start, end)
        if byte_range is not None:
            request["Range"] = byte_range
        try:
            response = self._client.get_object(**request)
        except ClientError as exc:
            if _code(exc) != "InvalidRange" and _status(exc) != 416:
                self._raise(exc, key)
            response = self._after_invalid_range(exc, key, start, end)
        except BotoCoreError as exc:
            self._raise(exc, key)
        return self._stream(key, response, chunk_size)

    def _after_invalid_range(
        self, exc: ClientError, key: str, start: int | None, end: int | None
    ) -> GetObjectOutputTypeDef:
        # AWS reports the size in the error; other servers need a HEAD.
        reported = str(exc.response.get("Error", {}).get("ActualObjectSize", ""))
        size = int(reported) if reported.isdigit() else self.stat(key).size
        if start is not None and start < 0 and size > 0:
            # RFC 9110 serves a suffix longer than the object as the whole object, as AWS
            # does; some S3-compatible servers answer 416 instead.
            try:
                return self._client.get_object(Bucket=self.bucket, Key=self._full_key(key))
            except (ClientError, BotoCoreError) as again:
                self._raise(again, key)
        resolve_range(key, start, end, size)  # raises with the reason for this size
        raise InvalidRangeError(key, start, end, size, "refused by the server")

    def _stream(self, key: str, response: GetObjectOutputTypeDef, chunk_size: int) -> ObjectStream:
        length = response["ContentLength"]
        content_range = response.get("ContentRange")
        if content_range:
            # "bytes 3-10/11": the first number is where this body starts, the last the size.
            start = int(content_range.split()[1].split("-")[0])
            total = _CONTENT_RANGE_TOTAL.search(content_range)
            size = int(total.group(1)) if total else start + length
        else:
            start, size = 0, length
        info = ObjectInfo(
            key=key,
            size=size,
            etag=response["ETag"].strip('"'),
            modified=response["LastModified"].astimezone(UTC),
            content_type=response.get("ContentType") or DEFAULT_CONTENT_TYPE,
        )
        body = response["Body"]

        def read(amount: int) -> bytes:
            try:
                return body.read(amount)
            except BotoCoreError as exc:
                self._raise(exc, key)

        return ObjectStream(
            info=info,
            start=start,
            length=length,
            read=read,
            close=body.close,
            chunk_size=chunk_size,
        )

    def stat(self, key: str) -> ObjectInfo:
        try:
            head = self._client.head_object(
                Bucket=self.bucket, Key=self._full_key(validate_key(key))
            )
        except (ClientError, BotoCoreError) as exc:
            self._raise(exc, key)
        return ObjectInfo(
            key=key,
            size=head["ContentLength"],
            etag=head["ETag"].strip('"'),
            modified=head["LastModified"].astimezone(UTC),
            content_type=head.get("ContentType") or DEFAULT_CONTENT_TYPE,
        )

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFoundError:
            return False
        return True

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        folder = normalize_prefix(prefix)
        store_folder = "/".join(part for part in (self.prefix, folder) if part)
        return self._pages(store_folder + "/" if store_folder else "")

    def _pages(self, list_prefix: str) -> Iterator[ObjectInfo]:
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self._client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket,
            Prefix=list_prefix,
            PaginationConfig={"PageSize": self._list_page_size},
        )
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"][strip:]
                    if key.endswith("/"):
                        continue  # a "folder marker" made by a console, not an object
                    try:
                        validate_key(key)
                    except InvalidKeyError as exc:
                        logger.warning("not listing s3://%s/%s: %s", self.bucket, key, exc.reason)
                        continue
                    yield ObjectInfo(
                        key=key,
                        size=item["Size"],
                        etag=item["ETag"].strip('"'),
                        modified=item["LastModified"].astimezone(UTC),
                    )
        except (ClientError, BotoCoreError) as exc:
            self._raise(exc, list_prefix)

    def ping(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            self._raise(exc, None)

    def close(self) -> None:
        self._client.close()

    # Errors

    def _raise(self, exc: ClientError | BotoCoreError, key: str | None) -> NoReturn:
        """Re-raise a boto error as the storage error a caller can act on."""
        if isinstance(exc, BotoCoreError):
            # Connection refused, timeouts, DNS, missing credentials: the store is unreachable.
            raise StorageUnavailableError(self._where, str(exc)) from exc
        code, status = _code(exc), _status(exc)
        message = exc.response.get("Error", {}).get("Message", "")
        if code == "NoSuchBucket" or (key is None and status == 404):
            raise StorageUnavailableError(
                self._where, f"bucket {self.bucket!r} does not exist; create it first"
            ) from exc
        if key is not None and (code in _NOT_FOUND or status == 404):
            raise ObjectNotFoundError(key) from exc
        if code in _DENIED or status == 403:
            raise StorageUnavailableError(
                self._where,
                f"access denied ({code}); check VIGIL_S3__ACCESS_KEY_ID and "
                "VIGIL_S3__SECRET_ACCESS_KEY",
            ) from exc
        if status >= 500 or code == "SlowDown":
            raise StorageUnavailableError(self._where, f"{code}: {message}") from exc
        raise StorageError(f"{self._where}: {code} on {key!r}: {message}") from exc


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _http_range(start: int | None, end: int | None) -> str | None:
    """The HTTP Range header for ``data[start:end]`` (arguments already checked)."""
    if start is None and end is None:
        return None
    if start is not None and start < 0:
        return f"bytes={start}"  # "bytes=-n": the last n bytes
    last = "" if end is None else str(end - 1)
    return f"bytes={start or 0}-{last}"
