"""Lake layout, DuckDB views and insight queries over engagement events."""
