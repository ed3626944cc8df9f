"""Shared test plumbing.

Tests that need a server (PostgreSQL, NATS, an S3 server, Chromium) call ``need_service``: it
skips where the server is missing, and fails instead when ``VIGIL_TEST_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REQUIRE_SERVICES = os.environ.get("VIGIL_TEST_REQUIRE_SERVICES") == "1"
POSTGRES_URL = os.environ.get(
    "VIGIL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
NATS_URL = os.environ.get("VIGIL_TEST_NATS_URL", "nats://127.0.0.1:4222")
SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"


def need_service(name: str, why: str) -> None:
    """Skip the calling test because ``name`` is unavailable, or fail in CI."""
    message = f"{name} unavailable: {why}"
    if REQUIRE_SERVICES:
        pytest.fail(message + " (VIGIL_TEST_REQUIRE_SERVICES=1 turns this skip into a failure)")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _clean_vigil_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests start from Vigil's defaults, whatever the developer's shell exports."""
    for name in list(os.environ):
        if name.startswith("VIGIL_") and not name.startswith("VIGIL_TEST_"):
            monkeypatch.delenv(name)
    from core.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# Metadata store on both backends. SQLite: a migrated template copied per test. PostgreSQL: one
# migrated database per test session on the real server, every table emptied after each test.

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from core.db import upgrade

    path = tmp_path_factory.mktemp("template") / "vigil.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    import uuid

    import sqlalchemy as sa

    from core.db import upgrade

    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        need_service("postgresql", f"{POSTGRES_URL}: {exc.orig}")
    name = f"vigil_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(url: str) -> None:
    import sqlalchemy as sa

    from core.db import Base

    engine = sa.create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {tables} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """A migrated, empty metadata store: the test runs once per backend."""
    if request.param == "sqlite":
        import shutil

        path = tmp_path / "vigil.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_database_url")
    yield url
    _truncate_all(url)


@pytest.fixture
def database(database_url: str) -> Iterator[object]:
    from core.db import Database

    db = Database(database_url)
    yield db
    db.dispose()


def make_settings(tmp_path: Path, **overrides: object) -> object:
    """Settings for a test: embedded stores under ``tmp_path``, a real secret."""
    from core.settings import load_settings

    values: dict[str, object] = {
        "env": "test",
        "data_dir": tmp_path / "data",
        "auth": {"secret_key": TEST_SECRET},
        "bus": {"ack_wait_seconds": 2.0, "backoff_initial_seconds": 0.05},
    }
    values.update(overrides)
    return load_settings(**values)
