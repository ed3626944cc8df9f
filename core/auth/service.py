"""Accounts, sign-in, tokens and API keys: the functions the edges call."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.db import new_id, utcnow

from . import tokens
from .errors import (
    ApiKeyNotFoundError,
    InvalidCredentialsError,
    InvalidTokenError,
    InvalidUserFieldError,
    MissingScopeError,
    UserExistsError,
    UserNotFoundError,
)
from .models import ApiKey, RefreshToken, User
from .passwords import (
    MIN_PASSWORD_LENGTH,
    generate_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from .roles import ROLE_SCOPES, Role, Scope

API_KEY_PREFIX = "vgl_"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")
_LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a signed-in user or an app's API key, and what they may do."""

    kind: str  # "user" or "api_key"
    id: str
    name: str
    role: Role | None
    scopes: frozenset[Scope]

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes

    def require(self, scope: Scope) -> None:
        if scope not in self.scopes:
            raise MissingScopeError(scope.value, self.describe())

    def describe(self) -> str:
        if self.kind == "user":
            return f"user {self.name!r} (role {self.role})"
        return f"API key {self.name!r}"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def principal_for(user: User) -> Principal:
    role = Role(user.role)
    return Principal(kind="user", id=user.id, name=user.name, role=role, scopes=ROLE_SCOPES[role])


# Users


def validate_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise InvalidUserFieldError(
            "name must be 2-64 characters of a-z, 0-9, '_', '.', '-', starting with a letter "
            "or digit",
            details={"field": "name", "value": name},
        )
    return name


def validate_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidUserFieldError(
            f"unknown role {role!r}; roles: {', '.join(r.value for r in Role)}",
            details={"field": "role", "allowed": [r.value for r in Role]},
        ) from None


def create_user(
    session: Session,
    *,
    name: str,
    role: str,
    password: str | None = None,
    generate: bool = True,
    display_name: str | None = None,
    country: str | None = None,
    language: str | None = None,
    review_language: str | None = None,
) -> tuple[User, str | None]:
    """Create an account; returns it and the password when one was generated."""
    validate_name(name)
    checked_role = validate_role(role)
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidUserFieldError(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters",
            details={"field": "password", "min_length": MIN_PASSWORD_LENGTH},
        )
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise UserExistsError(f"a user named {name!r} exists already", details={"name": name})
    generated = generate_password() if password is None and generate else None
    secret = password or generated
    user = User(
        id=new_id(),
        name=name,
        role=checked_role.value,
        display_name=display_name,
        password_hash=hash_password(secret) if secret else None,
        country=country.upper() if country else None,
        language=language,
        review_language=review_language,
    )
    session.add(user)
    session.flush()
    return user, generated


def get_user(session: Session, *, user_id: str) -> User | None:
    return session.get(User, user_id)


def get_user_or_raise(session: Session, *, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise UserNotFoundError(f"no user with id {user_id!r}", details={"id": user_id})
    return user


def get_user_by_name(session: Session, *, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))


def list_users(session: Session, *, role: str | None = None, limit: int = 100) -> list[User]:
    query = select(User).order_by(User.created_at, User.name).limit(limit)
    if role:
        query = query.where(User.role == validate_role(role).value)
    return list(session.scalars(query))


def update_user(
    session: Session,
    *,
    user_id: str,
    role: str | None = None,
    is_active: bool | None = None,
    review_language: str | None = None,
) -> User:
    user = get_user_or_raise(session, user_id=user_id)
    if role is not None:
        user.role = validate_role(role).value
    if is_active is not None:
        user.is_active = is_active
        if not is_active:
            revoke_refresh_tokens(session, user_id=user.id)
    if review_language is not None:
        user.review_language = review_language
    session.flush()
    return user


def count_users(session: Session, *, role: str | None = None) -> int:
    query = select(func.count()).select_from(User)
    if role:
        query = query.where(User.role == role)
    return int(session.scalar(query) or 0)


# Sign-in and tokens


def authenticate(session: Session, *, name: str, password: str) -> User:
    """The active user with this name and password, or InvalidCredentialsError."""
    user = get_user_by_name(session, name=name)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        raise InvalidCredentialsError()
    assert user.password_hash is not None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def issue_tokens(
    session: Session,
    *,
    user: User,
    secret: str,
    access_minutes: int,
    refresh_days: int,
    family: str | None = None,
) -> TokenPair:
    """A short-lived access token and a refresh token (stored hashed)."""
    access, _ = tokens.encode(
        secret=secret,
        subject=user.id,
        name=user.name,
        role=user.role,
        audience="access",
        lifetime=dt.timedelta(minutes=access_minutes),
    )
    refresh = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            id=new_id(),
            user_id=user.id,
            family=family or new_id(),
            token_hash=_sha256(refresh),
            expires_at=utcnow() + dt.timedelta(days=refresh_days),
        )
    )
    session.flush()
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=access_minutes * 60)


def refresh_tokens(
    session: Session, *, refresh_token: str, secret: str, access_minutes: int, refresh_days: int
) -> TokenPair:
    """Exchange a refresh token for a new pair; each refresh token works once.

    Presenting a used one again means it leaked: the whole family is revoked.
    """
    row = session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == _sha256(refresh_token))
    )
    if row is None:
        raise InvalidTokenError("unknown refresh token")
    now = utcnow()
    if row.revoked_at is not None:
        raise InvalidTokenError("this refresh token was revoked; sign in again")
    if row.used_at is not None:
        session.execute(
            update(RefreshToken)
            .where(RefreshToken.family == row.family, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        session.commit()
        raise InvalidTokenError(
            "this refresh token was already used; every token of the "
            "session is now revoked, sign in again"
        )
    if row.expires_at <= now:
        raise InvalidTokenError("the refresh token has expired; sign in again")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise InvalidTokenError("the account of this refresh token is disabled")
    row.used_at = now
    return issue_tokens(
        session,
        user=user,
        secret=secret,
        access_minutes=access_minutes,
        refresh_days=refresh_days,
        family=row.family,
    )


def revoke_refresh_tokens(session: Session, *, user_id: str) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def principal_from_access_token(session: Session, *, token: str, secret: str) -> Principal:
    """Verify an access token and load its user, so disabled accounts stop at once."""
    claims = tokens.decode(token, secret=secret, audience="access")
    user = session.get(User, claims.subject)
    if user is None or not user.is_active:
        raise InvalidTokenError("the account of this token no longer exists or is disabled")
    return principal_for(user)


# API keys


def create_api_key(
    session: Session,
    *,
    name: str,
    scopes: frozenset[Scope],
    created_by: str | None = None,
    expires_at: dt.datetime | None = None,
) -> tuple[ApiKey, str]:
    """A new key; returns the row and the plaintext key, which is shown only this once."""
    if not scopes:
        raise InvalidUserFieldError(
            "an API key needs at least one scope", details={"field": "scopes"}
        )
    prefix = secrets.token_hex(4)
    secret_part = secrets.token_urlsafe(32)
    plaintext = f"{API_KEY_PREFIX}{prefix}_{secret_part}"
    key = ApiKey(
        id=new_id(),
        name=name,
        prefix=prefix,
        key_hash=_sha256(plaintext),
        scopes=" ".join(sorted(scope.value for scope in scopes)),
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key, plaintext


def looks_like_api_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX)


def principal_from_api_key(session: Session, *, key: str) -> Principal:
    parts = key[len(API_KEY_PREFIX) :].split("_", 1)
    if len(parts) != 2:
        raise InvalidTokenError("malformed API key: expected vgl_<prefix>_<secret>")
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[0]))
    if row is None or not hmac.compare_digest(row.key_hash, _sha256(key)):
        raise InvalidTokenError("unknown API key")
    now = utcnow()
    if row.revoked_at is not None:
        raise InvalidTokenError(f"API key {row.name!r} was revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise InvalidTokenError(f"API key {row.name!r} expired at {row.expires_at.isoformat()}")
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_RESOLUTION:
        row.last_used_at = now
    scopes = frozenset(Scope(s) for s in row.scopes.split() if s in Scope._value2member_map_)
    return Principal(kind="api_key", id=row.id, name=row.name, role=None, scopes=scopes)


def list_api_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def revoke_api_key(session: Session, *, key_id: str) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise ApiKeyNotFoundError(f"no API key with id {key_id!r}", details={"id": key_id})
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row
