"""Sign-in (OAuth2 password flow), token refresh and sign-out, and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from pydantic import BaseModel

from api.deps import CurrentPrincipal, DbSession, SettingsDep
from api.schemas import TokenResponse, UserOut
from core import auth
from core.errors import InvalidInputError

public = APIRouter(prefix="/v1/auth", tags=["auth"])
protected = APIRouter(tags=["auth"])


class RefreshRequest(BaseModel):
    refresh_token: str


def _token_response(pair: auth.TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        token_type=pair.token_type,
    )


@public.post("/token", summary="Sign in: OAuth2 password or refresh_token grant")
def token(
    db: DbSession,
    settings: SettingsDep,
    grant_type: Annotated[str, Form()] = "password",
    username: Annotated[str | None, Form()] = None,
    password: Annotated[str | None, Form()] = None,
    refresh_token: Annotated[str | None, Form()] = None,
) -> TokenResponse:
    secret = settings.auth.secret_key.get_secret_value()
    lifetimes = {
        "access_minutes": settings.auth.access_token_minutes,
        "refresh_days": settings.auth.refresh_token_days,
    }
    if grant_type == "refresh_token":
        if not refresh_token:
            raise InvalidInputError(
                "refresh_token is required with grant_type=refresh_token",
                details={"field": "refresh_token"},
            )
        pair = auth.refresh_tokens(db, refresh_token=refresh_token, secret=secret, **lifetimes)
        db.commit()
        return _token_response(pair)
    if grant_type != "password":
        raise InvalidInputError(
            f"unsupported grant_type {grant_type!r}; use password or refresh_token",
            details={"field": "grant_type", "allowed": ["password", "refresh_token"]},
        )
    if not username or not password:
        missing = [
            name for name, value in (("username", username), ("password", password)) if not value
        ]
        raise InvalidInputError(f"{' and '.join(missing)} required", details={"fields": missing})
    user = auth.authenticate(db, name=username, password=password)
    pair = auth.issue_tokens(db, user=user, secret=secret, **lifetimes)
    db.commit()
    return _token_response(pair)


@public.post("/refresh", summary="Exchange a refresh token for a new token pair")
def refresh(body: RefreshRequest, db: DbSession, settings: SettingsDep) -> TokenResponse:
    pair = auth.refresh_tokens(
        db,
        refresh_token=body.refresh_token,
        secret=settings.auth.secret_key.get_secret_value(),
        access_minutes=settings.auth.access_token_minutes,
        refresh_days=settings.auth.refresh_token_days,
    )
    db.commit()
    return _token_response(pair)


@protected.post("/v1/auth/logout", status_code=204, summary="Revoke the caller's refresh tokens")
def logout(principal: CurrentPrincipal, db: DbSession) -> None:
    if principal.kind == "user":
        auth.revoke_refresh_tokens(db, user_id=principal.id)


@protected.get("/v1/me", summary="The signed-in user or API key, with its scopes")
def me(principal: CurrentPrincipal, db: DbSession) -> UserOut | dict[str, object]:
    if principal.kind == "user":
        return UserOut.from_user(auth.get_user_or_raise(db, user_id=principal.id))
    return {
        "kind": "api_key",
        "id": principal.id,
        "name": principal.name,
        "scopes": sorted(principal.scopes),
    }
