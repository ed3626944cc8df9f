"""The metadata store on SQLite and PostgreSQL: migrations match the models, WAL, UTC times."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import feed.models  # noqa: F401 - every room's tables take part in the comparison
from core.auth import User
from core.db import Base, Database, current_revision, head_revision, upgrade
from core.db.engine import DatabaseUnavailableError


def test_migrations_match_the_models(database_url: str) -> None:
    assert current_revision(database_url) == head_revision()
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []


def test_datetimes_come_back_in_utc(database: Database) -> None:
    moment = dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with database.session() as session:
        session.add(User(id="u1", name="tz-test", role="viewer", created_at=moment))
    with database.session() as session:
        loaded = session.get(User, "u1")
        assert loaded is not None
        assert loaded.created_at == moment
        assert loaded.created_at.tzinfo == dt.UTC
        assert loaded.created_at.hour == 10


def test_session_rolls_back_on_error(database: Database) -> None:
    def add_then_fail() -> None:
        with database.session() as session:
            session.add(User(id="u2", name="rolled-back", role="viewer"))
            session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        add_then_fail()
    with database.session() as session:
        assert session.get(User, "u2") is None


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'vigil.db'}"
    upgrade(url)  # creates the directory and the file
    database = Database(url)
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    database.dispose()


def test_unreachable_database_is_a_specific_error() -> None:
    database = Database("postgresql+psycopg://vigil:secret@127.0.0.1:1/vigil")
    with pytest.raises(DatabaseUnavailableError) as caught:
        database.ping()
    assert "127.0.0.1:1" in caught.value.message
    assert "secret" not in caught.value.message
    database.dispose()
