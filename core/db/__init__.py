"""The metadata store: SQLAlchemy engine, sessions, the declarative base and migrations.

SQLite in WAL mode under the data dir by default; PostgreSQL by URL. Both run the same Alembic
migrations (``migrations/``), so every model works on either.
"""

from __future__ import annotations

from .base import Base, UTCDateTime, new_id, utcnow
from .engine import Database, DatabaseUnavailableError, make_engine
from .migrate import current_revision, head_revision, upgrade

__all__ = [
    "Base",
    "Database",
    "DatabaseUnavailableError",
    "UTCDateTime",
    "current_revision",
    "head_revision",
    "make_engine",
    "new_id",
    "upgrade",
    "utcnow",
]
