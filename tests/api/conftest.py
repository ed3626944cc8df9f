"""An API app on the embedded bus and store, over each metadata backend, and signed-in callers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import create_app
from core import auth
from core.db import Database
from core.runtime import Services
from tests.conftest import make_settings
from vigil.server import ALL_TOPICS

PASSWORD = "correct-horse-battery-staple"


def wait_ready(client: TestClient, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.02)
    raise AssertionError(f"not ready after {timeout} s: {client.get('/readyz').json()}")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> object:
    return make_settings(tmp_path, database_url=database_url)


async def _declare_topics(services: Services) -> None:
    await services.bus.ensure_topics(ALL_TOPICS)


@pytest.fixture
def app(settings: object) -> FastAPI:
    """The API as `vigil api` runs it: every room's topics declared at start-up."""
    return create_app(settings, on_startup=_declare_topics)  # type: ignore[arg-type]


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        wait_ready(test_client)
        yield test_client


@pytest.fixture
def make_user(database_url: str) -> Iterator[Callable[..., auth.User]]:
    db = Database(database_url)

    def make(name: str, role: str, password: str = PASSWORD) -> auth.User:
        with db.session() as session:
            user, _ = auth.create_user(session, name=name, role=role, password=password)
            return user

    yield make
    db.dispose()


@pytest.fixture
def token_for(client: TestClient, make_user: Callable[..., auth.User]) -> Callable[[str], str]:
    """Sign a new user of ``role`` in through the API; returns the access token."""
    counter = iter(range(1_000_000))

    def sign_in(role: str) -> str:
        name = f"{role.replace('_', '-')}-{next(counter)}"
        make_user(name, role)
        response = client.post("/v1/auth/token", data={"username": name, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    return sign_in
