"""Typed dependencies: the request's services, database session, caller and scope checks."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from core import auth
from core.auth import Principal, Scope
from core.errors import UnavailableError
from core.runtime import Services
from core.settings import Settings

# Declares the bearer scheme in OpenAPI (so /docs can sign in) without failing by itself:
# the 401 comes from `current_principal`, in Vigil's error shape.
_bearer = OAuth2PasswordBearer(tokenUrl="/v1/auth/token", auto_error=False)


def get_services(request: Request) -> Services:
    services: Services | None = request.app.state.services
    if services is None:
        reason = request.app.state.startup_error or "starting up"
        raise UnavailableError(f"not ready: {reason}", details={"retry_after_seconds": 2})
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_db(services: ServicesDep) -> Iterator[Session]:
    """A session per request, committed when the route returns without error."""
    with services.db.session() as session:
        yield session


DbSession = Annotated[Session, Depends(get_db)]


def _principal_cache(request: Request, settings: Settings) -> auth.PrincipalCache:
    cache: auth.PrincipalCache | None = getattr(request.app.state, "principal_cache", None)
    if cache is None:
        cache = auth.PrincipalCache(ttl_seconds=settings.auth.api_key_cache_seconds)
        request.app.state.principal_cache = cache
    return cache


def resolve_principal(db: Session, settings: Settings, token: str | None) -> Principal:
    """The caller a bearer token names (an access token or an API key), or 401; no cache."""
    if not token:
        raise auth.MissingCredentialsError()
    if auth.looks_like_api_key(token):
        return auth.principal_from_api_key(db, key=token)
    return auth.principal_from_access_token(
        db, token=token, secret=settings.auth.secret_key.get_secret_value()
    )


def _resolve_in_session(services: Services, token: str) -> Principal:
    with services.db.session() as session:
        return resolve_principal(session, services.settings, token)


async def current_principal(
    request: Request, services: ServicesDep, token: Annotated[str | None, Depends(_bearer)]
) -> Principal:
    """The caller from ``Authorization: Bearer`` (an access token or an API key), or 401.

    API keys checked recently are taken from the process's cache, without a database query.
    """
    if not token:
        raise auth.MissingCredentialsError()
    if auth.looks_like_api_key(token):
        cache = _principal_cache(request, services.settings)
        cached = cache.get(token)
        if cached is not None:
            return cached
        principal = await run_in_threadpool(_resolve_in_session, services, token)
        cache.put(token, principal)
        return principal
    return await run_in_threadpool(_resolve_in_session, services, token)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


class RequireScope:
    """Dependency that lets the call through only if the caller holds ``scope``.

    ``scope=None`` means any authenticated caller. Routes declare it in their dependencies, so
    the auth matrix test can read every route's requirement from the app itself.
    """

    def __init__(self, scope: Scope | None) -> None:
        self.scope = scope

    def __call__(self, principal: CurrentPrincipal) -> Principal:
        if self.scope is not None:
            principal.require(self.scope)
        return principal

    def __repr__(self) -> str:
        return f"RequireScope({self.scope})"


class RequireMetricsAccess(RequireScope):
    """The metrics:read scope, or the configured Prometheus scrape token."""

    def __init__(self) -> None:
        super().__init__(Scope.METRICS_READ)

    def __call__(  # type: ignore[override]
        self,
        db: DbSession,
        settings: SettingsDep,
        token: Annotated[str | None, Depends(_bearer)],
    ) -> Principal | None:
        configured = settings.metrics.scrape_token
        expected = configured.get_secret_value().encode() if configured is not None else None
        if token and expected and hmac.compare_digest(token.encode(), expected):
            return None
        principal = resolve_principal(db, settings, token)
        principal.require(Scope.METRICS_READ)
        return principal


def requires(scope: Scope | None) -> object:
    """``Depends(RequireScope(scope))`` for a route's ``dependencies=[...]``."""
    return Depends(RequireScope(scope))
