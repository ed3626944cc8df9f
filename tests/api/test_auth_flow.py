"""Sign-in, tokens, refresh rotation and the errors a caller sees when something is off."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from fastapi.testclient import TestClient

from core import auth
from tests.api.conftest import PASSWORD
from tests.conftest import TEST_SECRET


def _sign_in(client: TestClient, name: str, password: str = PASSWORD) -> dict[str, object]:
    response = client.post("/v1/auth/token", data={"username": name, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_password_flow_and_me(client: TestClient, make_user: Callable[..., auth.User]) -> None:
    make_user("mod-ana", "moderator")
    tokens = _sign_in(client, "mod-ana")
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 15 * 60
    me = client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["name"] == "mod-ana"
    assert me.json()["role"] == "moderator"
    assert me.json()["last_login_at"] is not None


def test_wrong_password_and_unknown_user_look_the_same(
    client: TestClient, make_user: Callable[..., auth.User]
) -> None:
    make_user("sre-bo", "sre")
    wrong = client.post("/v1/auth/token", data={"username": "sre-bo", "password": "nope" * 4})
    unknown = client.post("/v1/auth/token", data={"username": "ghost", "password": "nope" * 4})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "invalid_credentials"


def test_missing_form_fields_are_named(client: TestClient) -> None:
    response = client.post("/v1/auth/token", data={"username": "x"})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["fields"] == ["password"]


def test_refresh_rotates_and_reuse_revokes_the_family(
    client: TestClient, make_user: Callable[..., auth.User]
) -> None:
    make_user("analyst-cy", "analyst")
    first = _sign_in(client, "analyst-cy")
    second = client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    # The same refresh token again: it leaked, so every token of that sign-in dies.
    replay = client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert "already used" in replay.json()["error"]["message"]
    after = client.post(
        "/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": second.json()["refresh_token"]},
    )
    assert after.status_code == 401
    assert "revoked" in after.json()["error"]["message"]


def test_malformed_and_expired_tokens(
    client: TestClient, make_user: Callable[..., auth.User]
) -> None:
    user = make_user("viewer-di", "viewer")
    malformed = client.get("/v1/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert malformed.status_code == 401
    assert malformed.json()["error"]["code"] == "invalid_token"

    expired, _ = auth.tokens.encode(
        secret=TEST_SECRET,
        subject=user.id,
        name=user.name,
        role=user.role,
        audience="access",
        lifetime=dt.timedelta(seconds=-5),
    )
    response = client.get("/v1/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"

    forged, _ = auth.tokens.encode(
        secret="another-secret-another-secret-another",
        subject=user.id,
        name=user.name,
        role="admin",
        audience="access",
        lifetime=dt.timedelta(minutes=5),
    )
    response = client.get("/v1/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"

    session_cookie, _ = auth.tokens.encode(
        secret=TEST_SECRET,
        subject=user.id,
        name=user.name,
        role=user.role,
        audience="session",
        lifetime=dt.timedelta(minutes=5),
    )
    response = client.get("/v1/me", headers={"Authorization": f"Bearer {session_cookie}"})
    assert response.status_code == 401
    assert "not a access token" in response.json()["error"]["message"]


def test_deactivated_user_is_locked_out_at_once(
    client: TestClient, token_for: Callable[[str], str], make_user: Callable[..., auth.User]
) -> None:
    admin = {"Authorization": f"Bearer {token_for('admin')}"}
    target = make_user("creator-ed", "creator")
    tokens = _sign_in(client, "creator-ed")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/v1/me", headers=headers).status_code == 200
    patched = client.patch(f"/v1/users/{target.id}", json={"is_active": False}, headers=admin)
    assert patched.status_code == 200
    assert patched.json()["is_active"] is False
    assert client.get("/v1/me", headers=headers).status_code == 401
    refresh = client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401


def test_admin_creates_user_with_generated_password(
    client: TestClient, token_for: Callable[[str], str]
) -> None:
    admin = {"Authorization": f"Bearer {token_for('admin')}"}
    created = client.post(
        "/v1/users",
        json={"name": "mod-fay", "role": "moderator", "review_language": "es"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    password = created.json()["password"]
    assert len(password) >= 16
    assert _sign_in(client, "mod-fay", password)["access_token"]
    again = client.post("/v1/users", json={"name": "mod-fay", "role": "moderator"}, headers=admin)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "user_exists"
    bad_role = client.post("/v1/users", json={"name": "x-y", "role": "owner"}, headers=admin)
    assert bad_role.status_code == 422
    assert bad_role.json()["error"]["details"]["errors"][0]["field"] == "body.role"
