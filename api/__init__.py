"""The HTTP edge: app factory, /v1 routers, dependencies, error mapping, middleware."""

from __future__ import annotations

from .app import PUBLIC_PATHS, create_app
from .deps import RequireScope

__all__ = ["PUBLIC_PATHS", "RequireScope", "create_app"]
