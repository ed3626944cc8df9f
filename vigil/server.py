"""The ASGI applications the roles serve: the API with the dashboards, or the dashboards alone.

Uvicorn imports these factories by name, so ``vigil api --workers N`` gets one app per worker.
"""

from __future__ import annotations

from starlette.types import ASGIApp

import ingest
import moderation
from api import create_app
from api.middleware import RequestIdMiddleware
from core.logging import configure_logging
from core.metrics import MetricsMiddleware
from core.runtime import Services
from core.settings import Settings, get_settings
from dashboards import DashboardGateway

#: Every topic any room publishes; declared by each role at start-up.
ALL_TOPICS: tuple[str, ...] = (*ingest.TOPICS, *moderation.TOPICS)


def build_app(
    settings: Settings, *, services: Services | None = None, include_api: bool = True
) -> ASGIApp:
    """The API (unless ``include_api`` is false) and the dashboards behind one URL."""

    async def declare_topics(opened: Services) -> None:
        await opened.bus.ensure_topics(ALL_TOPICS)

    api = create_app(
        settings,
        services=services,
        include_api=include_api,
        edge_middleware=False,
        on_startup=declare_topics,
    )
    gateway = DashboardGateway(api, get_services=lambda: api.state.services)
    return RequestIdMiddleware(MetricsMiddleware(gateway))


def api_app() -> ASGIApp:
    """Factory for ``vigil api`` and ``vigil up``: API and dashboards."""
    settings = get_settings()
    configure_logging(level=settings.log.level, fmt=settings.log.format, role="api")
    return build_app(settings)


def dashboards_app() -> ASGIApp:
    """Factory for ``vigil dashboards``: the dashboards and health routes only."""
    settings = get_settings()
    configure_logging(level=settings.log.level, fmt=settings.log.format, role="dashboards")
    return build_app(settings, include_api=False)
