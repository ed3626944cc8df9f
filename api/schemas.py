"""Request and response bodies of the edge's own resources (users, keys, tokens)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from core.auth import ApiKey, Role, Scope, User


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")


class UserOut(BaseModel):
    id: str
    name: str
    display_name: str | None
    role: Role
    country: str | None
    language: str | None
    review_language: str | None
    is_active: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None

    @classmethod
    def from_user(cls, user: User) -> UserOut:
        return cls.model_validate(user, from_attributes=True)


class UserCreate(BaseModel):
    name: str = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]+$")
    role: Role
    display_name: str | None = Field(None, max_length=128)
    password: str | None = Field(
        None, min_length=12, description="Leave empty to have Vigil generate one."
    )
    country: str | None = Field(None, pattern=r"^[A-Za-z]{2}$")
    language: str | None = Field(None, max_length=8)
    review_language: str | None = Field(None, max_length=8)


class UserCreated(BaseModel):
    user: UserOut
    password: str | None = Field(description="The generated password; shown only this once.")


class UserUpdate(BaseModel):
    role: Role | None = None
    is_active: bool | None = None
    review_language: str | None = Field(None, max_length=8)


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    scopes: list[Scope] = Field(min_length=1)
    expires_at: dt.datetime | None = None


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    @classmethod
    def from_key(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            scopes=key.scopes.split(),
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
        )


class ApiKeyCreated(BaseModel):
    api_key: ApiKeyOut
    key: str = Field(description="The key itself; shown only this once.")
