"""Every route, every role: allowed or 403; no credentials: 401. Read from the app itself."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.testclient import TestClient

from api import PUBLIC_PATHS, RequireScope
from core.auth import ROLE_SCOPES, Role, Scope


def _api_routes(app: FastAPI) -> list[RouteContext]:
    return [rc for rc in iter_route_contexts(app.routes) if isinstance(rc.original_route, APIRoute)]


def _required_scopes(route: RouteContext) -> list[Scope | None]:
    found: list[Scope | None] = []
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, RequireScope):
            found.append(dependant.call.scope)
        stack.extend(dependant.dependencies)
    return found


def _protected_routes(app: FastAPI) -> list[tuple[str, str, Scope | None]]:
    """(method, path, scope) of every route that is not public; scope None = any caller."""
    rows = []
    for route in _api_routes(app):
        if route.path in PUBLIC_PATHS:
            continue
        scopes = _required_scopes(route)
        principal_needed = any(
            getattr(d.call, "__name__", "") == "current_principal" for d in _walk(route.dependant)
        )
        assert scopes or principal_needed, f"{route.path} is neither public nor authenticated"
        scope = next((s for s in scopes if s is not None), None)
        for method in sorted(route.methods):
            rows.append((method, route.path, scope))
    return rows


def _walk(dependant):  # type: ignore[no-untyped-def]
    stack = [dependant]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.dependencies)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def test_every_route_is_public_or_authenticated(app: FastAPI) -> None:
    routes = _protected_routes(app)
    paths = {path for _, path, _ in routes}
    # The sample of protected routes is present, so the matrix is not vacuous.
    assert {"/v1/users", "/v1/keys", "/metrics", "/v1/me", "/v1/ops/config"} <= paths
    public = {r.path for r in _api_routes(app)} & PUBLIC_PATHS
    assert public == {"/healthz", "/readyz", "/v1/auth/token", "/v1/auth/refresh"}


def test_no_credentials_gets_401_everywhere(client: TestClient, app: FastAPI) -> None:
    for method, path, _ in _protected_routes(app):
        response = client.request(method, _concrete(path), json={})
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        if method != "HEAD":  # a HEAD answer has no body
            assert response.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("role", list(Role))
def test_role_matrix(
    role: Role, client: TestClient, app: FastAPI, token_for: Callable[[str], str]
) -> None:
    headers = {"Authorization": f"Bearer {token_for(role.value)}"}
    for method, path, scope in _protected_routes(app):
        response = client.request(method, _concrete(path), json={}, headers=headers)
        allowed = scope is None or scope in ROLE_SCOPES[role]
        if allowed:
            assert response.status_code not in (401, 403), (role, method, path, response.text)
        else:
            assert response.status_code == 403, (role, method, path, response.text)
            if method == "HEAD":
                continue
            error = response.json()["error"]
            assert error["code"] == "missing_scope"
            assert error["details"]["required_scope"] == scope.value


def test_api_key_scopes_are_enforced(client: TestClient, token_for: Callable[[str], str]) -> None:
    admin = {"Authorization": f"Bearer {token_for('admin')}"}
    created = client.post(
        "/v1/keys", json={"name": "grafana", "scopes": ["metrics:read"]}, headers=admin
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("vgl_")
    as_key = {"Authorization": f"Bearer {key}"}
    assert client.get("/metrics", headers=as_key).status_code == 200
    denied = client.get("/v1/users", headers=as_key)
    assert denied.status_code == 403
    assert "API key 'grafana'" in denied.json()["error"]["message"]

    key_id = created.json()["api_key"]["id"]
    assert client.delete(f"/v1/keys/{key_id}", headers=admin).status_code == 200
    revoked = client.get("/metrics", headers=as_key)
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["error"]["message"]
