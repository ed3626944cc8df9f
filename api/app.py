"""The API application factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI

from core.errors import VigilError
from core.metrics import MetricsMiddleware
from core.runtime import Services, open_services
from core.settings import Settings

from .errors import install_error_handlers
from .middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from .routers import (
    analyze,
    auth,
    banks,
    comments,
    events,
    health,
    moderation,
    ops,
    uploads,
    users,
    videos,
)

log = logging.getLogger(__name__)

#: Routes anyone may call. Everything else requires a token or an API key.
PUBLIC_PATHS = frozenset(
    {
        "/healthz",
        "/readyz",
        "/v1/auth/token",
        "/v1/auth/refresh",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/openapi.json",
    }
)

#: Path prefixes whose routes enforce their own body limits (large uploads).
UPLOAD_PREFIXES: tuple[str, ...] = ("/v1/uploads",)

RETRY_SECONDS = 2.0


def create_app(
    settings: Settings,
    *,
    services: Services | None = None,
    on_startup: Callable[[Services], Awaitable[None]] | None = None,
    include_api: bool = True,
    edge_middleware: bool = True,
) -> FastAPI:
    """The API with its routers and middleware.

    With ``services`` given (tests), the app uses them and leaves them open. Otherwise it opens
    them at start-up, retrying in the background while a store or the bus is unreachable, and
    /readyz answers 503 with the reason meanwhile. ``include_api=False`` keeps only health
    routes (the dashboards role); ``edge_middleware=False`` leaves request ids and metrics to a
    caller that wraps this app together with others.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = services
        app.state.startup_error = None
        connector: asyncio.Task[None] | None = None
        if services is None:
            # What start-up built lives as long as the process: freezing it keeps the cyclic
            # garbage collector from scanning it again and again under load (a third of the
            # collector's time on event batches otherwise).
            gc.freeze()
            connector = asyncio.create_task(_connect(app, settings, on_startup))
        elif on_startup is not None:
            await on_startup(services)
        try:
            yield
        finally:
            if connector is not None:
                connector.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await connector
                opened: Services | None = app.state.services
                if opened is not None:
                    await opened.close()

    app = FastAPI(
        title="Vigil API",
        version="1",
        summary="Upload, play, comment, feed and engagement events; trust and safety around them.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.services = services
    app.state.startup_error = None
    install_error_handlers(app)
    app.include_router(health.public)
    app.include_router(health.protected)
    if include_api:
        for router in (
            auth.public,
            auth.protected,
            users.router,
            ops.router,
            videos.router,
            uploads.router,
            events.router,
            comments.router,
            moderation.router,
            banks.router,
            analyze.router,
        ):
            app.include_router(router)
        # tus discovery is unauthenticated; a plain route keeps it out of the API's scope table.
        app.add_route("/v1/uploads", uploads.tus_options, methods=["OPTIONS"])
        app.add_route("/v1/uploads/{upload_id}", uploads.tus_options, methods=["OPTIONS"])
    # Added innermost first: the body limit, then metrics, then request ids outermost.
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.http.max_body_bytes,
        exempt_prefixes=UPLOAD_PREFIXES,
    )
    if edge_middleware:
        app.add_middleware(MetricsMiddleware)
        app.add_middleware(RequestIdMiddleware)
    return app


async def _connect(
    app: FastAPI, settings: Settings, on_startup: Callable[[Services], Awaitable[None]] | None
) -> None:
    while True:
        if app.state.startup_error is None:
            app.state.startup_error = f"connecting to the bus at {settings.effective_bus_url}"
        try:
            opened = await open_services(settings)
        except VigilError as exc:
            if app.state.startup_error != exc.message:
                log.warning("not ready: %s; retrying every %.0f s", exc.message, RETRY_SECONDS)
            app.state.startup_error = exc.message
            await asyncio.sleep(RETRY_SECONDS)
            continue
        app.state.services = opened
        app.state.startup_error = None
        if on_startup is not None:
            await on_startup(opened)
        log.info("connected to the stores and the bus")
        return
