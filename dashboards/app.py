"""The Dash application (analytics pages and the review console) and its mounting.

One Dash app serves both consoles as pages (Dash's page registry is per process). It runs on
Dash's Flask server behind an ASGI bridge and the session guard; callbacks reach the stores
through ``services()`` and the caller through ``principal()``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import dash
import flask
from a2wsgi import WSGIMiddleware
from dash import dcc, html
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

import analytics
from core.auth import Principal
from core.errors import AuthenticationError, UnavailableError
from core.runtime import Services

from .session import (
    CONSOLES,
    COOKIE_NAME,
    ServicesGetter,
    SessionGuard,
    landing_path,
    make_login_endpoints,
    principal_from_cookie,
)

_HERE = Path(__file__).resolve().parent
_SERVICES_KEY = "vigil.get_services"
_ANALYTICS_KEY = "vigil.analytics"
_ANALYTICS_LOCK_KEY = "vigil.analytics_lock"

#: Path prefixes the Dash app answers; everything else belongs to the API.
DASH_PREFIXES = (
    "/analytics",
    "/review",
    "/_dash-",
    "/_favicon.ico",
    "/_reload-hash",
    "/assets/",
)


def services() -> Services:
    """The stores and bus, from inside a Dash callback."""
    getter: ServicesGetter = flask.current_app.config[_SERVICES_KEY]
    opened = getter()
    if opened is None:
        raise UnavailableError("Vigil is starting: the stores are not connected yet")
    return opened


def analytics_engine() -> analytics.Analytics:
    """The process's analytics engine (DuckDB over the lake), opened on first use per Dash app."""
    config = flask.current_app.config
    engine: analytics.Analytics | None = config.get(_ANALYTICS_KEY)
    if engine is None:
        with config[_ANALYTICS_LOCK_KEY]:
            engine = config.get(_ANALYTICS_KEY)
            if engine is None:
                engine = analytics.open_analytics(services())
                config[_ANALYTICS_KEY] = engine
    return engine


def principal() -> Principal:
    """The signed-in user, from inside a Dash callback (the guard has already checked it)."""
    found = principal_from_cookie(services(), flask.request.cookies.get(COOKIE_NAME))
    if found is None:
        raise AuthenticationError("the dashboard session has expired; sign in again at /login")
    return found


def _shell() -> Any:
    links = [dcc.Link(title, href=path, className="nav-link") for path, _scope, title in CONSOLES]
    return html.Div(
        [
            html.Header(
                [
                    html.Span("Vigil", className="brand"),
                    html.Nav(links),
                    html.A("Sign out", href="/logout", className="nav-link sign-out"),
                ],
                className="topbar",
            ),
            html.Main(dash.page_container, className="content"),
        ]
    )


def create_dash_app(get_services: ServicesGetter) -> dash.Dash:
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(_HERE / "pages"),
        assets_folder=str(_HERE / "assets"),
        serve_locally=True,  # nothing from a CDN: the machine may be offline
        title="Vigil",
        suppress_callback_exceptions=True,
        update_title=None,
    )
    app.server.config[_SERVICES_KEY] = get_services
    app.server.config[_ANALYTICS_LOCK_KEY] = threading.Lock()
    app.layout = _shell
    return app


class _RouteLabel:
    """Stands in for a matched route so metrics label dashboard requests by prefix."""

    def __init__(self, path: str) -> None:
        self.path = path


class DashboardGateway:
    """ASGI app: /login, /logout, / and the Dash paths here; every other path to ``fallback``."""

    def __init__(self, fallback: ASGIApp, *, get_services: ServicesGetter) -> None:
        show, submit, logout = make_login_endpoints(get_services)
        self.fallback = fallback
        self.get_services = get_services
        self.pages = Router(
            routes=[
                Route("/login", show, methods=["GET"]),
                Route("/login", submit, methods=["POST"]),
                Route("/logout", logout, methods=["GET", "POST"]),
                Route("/", self._home, methods=["GET"]),
            ]
        )
        self.dash = SessionGuard(
            WSGIMiddleware(create_dash_app(get_services).server),  # type: ignore[arg-type]
            get_services=get_services,
        )

    async def _home(self, request: Request) -> Response:
        opened = self.get_services()
        found = principal_from_cookie(opened, request.cookies.get(COOKIE_NAME)) if opened else None
        target = landing_path(found) if found else None
        return RedirectResponse(target or "/login", status_code=303)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path in ("/", "/login", "/logout"):
            await self.pages(scope, receive, send)
        elif scope["type"] == "http" and path.startswith(DASH_PREFIXES):
            label = next(p for p in DASH_PREFIXES if path.startswith(p))
            if label.startswith("/_dash-"):
                label = "/" + path.split("/")[1]
            scope["route"] = _RouteLabel(label.rstrip("/"))
            await self.dash(scope, receive, send)
        else:
            await self.fallback(scope, receive, send)
