"""Alembic environment: the metadata of every room's models, online migrations only."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

# Every room's tables must be imported here so autogenerate sees them.
import feed.models  # noqa: F401
import ingest.models  # noqa: F401
import moderation.models  # noqa: F401
from core.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        _run(conn)
        conn.commit()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copy
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
