"""Alembic migrations of the metadata store (SQLite and PostgreSQL)."""
