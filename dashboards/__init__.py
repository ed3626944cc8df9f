"""The UI edge: the analytics app and the review console (Dash pages), behind a login page."""

from __future__ import annotations

from .app import DASH_PREFIXES, DashboardGateway, create_dash_app, principal, services
from .session import COOKIE_NAME, principal_from_cookie

__all__ = [
    "COOKIE_NAME",
    "DASH_PREFIXES",
    "DashboardGateway",
    "create_dash_app",
    "principal",
    "principal_from_cookie",
    "services",
]
