"""Accounts and API keys, managed by admins."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentPrincipal, DbSession, requires
from api.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    UserCreate,
    UserCreated,
    UserOut,
    UserUpdate,
)
from core import auth
from core.auth import Role, Scope

router = APIRouter(tags=["users"], dependencies=[requires(Scope.USERS_ADMIN)])


@router.get("/v1/users", summary="List accounts")
def list_users(db: DbSession, role: Role | None = None, limit: int = 100) -> list[UserOut]:
    return [UserOut.from_user(u) for u in auth.list_users(db, role=role, limit=min(limit, 1000))]


@router.post("/v1/users", status_code=201, summary="Create an account")
def create_user(body: UserCreate, db: DbSession) -> UserCreated:
    user, generated = auth.create_user(
        db,
        name=body.name,
        role=body.role,
        password=body.password,
        display_name=body.display_name,
        country=body.country,
        language=body.language,
        review_language=body.review_language,
    )
    db.commit()
    return UserCreated(user=UserOut.from_user(user), password=generated)


@router.get("/v1/users/{user_id}", summary="One account")
def get_user(user_id: str, db: DbSession) -> UserOut:
    return UserOut.from_user(auth.get_user_or_raise(db, user_id=user_id))


@router.patch("/v1/users/{user_id}", summary="Change role, deactivate or set review language")
def update_user(user_id: str, body: UserUpdate, db: DbSession) -> UserOut:
    user = auth.update_user(
        db,
        user_id=user_id,
        role=body.role,
        is_active=body.is_active,
        review_language=body.review_language,
    )
    return UserOut.from_user(user)


@router.get("/v1/keys", summary="List API keys")
def list_keys(db: DbSession) -> list[ApiKeyOut]:
    return [ApiKeyOut.from_key(k) for k in auth.list_api_keys(db)]


@router.post("/v1/keys", status_code=201, summary="Create an API key (shown once)")
def create_key(body: ApiKeyCreate, db: DbSession, principal: CurrentPrincipal) -> ApiKeyCreated:
    key, plaintext = auth.create_api_key(
        db,
        name=body.name,
        scopes=frozenset(body.scopes),
        created_by=principal.id if principal.kind == "user" else None,
        expires_at=body.expires_at,
    )
    db.commit()
    return ApiKeyCreated(api_key=ApiKeyOut.from_key(key), key=plaintext)


@router.delete("/v1/keys/{key_id}", summary="Revoke an API key")
def revoke_key(key_id: str, db: DbSession) -> ApiKeyOut:
    return ApiKeyOut.from_key(auth.revoke_api_key(db, key_id=key_id))
