"""Signed tokens: JWT access tokens and dashboard session cookies (HS256)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import jwt

from .errors import InvalidTokenError, TokenExpiredError

ALGORITHM = "HS256"
ISSUER = "vigil"


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    name: str
    role: str
    audience: str
    expires_at: dt.datetime
    token_id: str


def encode(
    *, secret: str, subject: str, name: str, role: str, audience: str, lifetime: dt.timedelta
) -> tuple[str, dt.datetime]:
    """A signed token for ``audience`` ("access" or "session") and when it expires."""
    now = dt.datetime.now(dt.UTC)
    expires = now + lifetime
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "sub": subject,
        "name": name,
        "role": role,
        "aud": audience,
        "iat": now,
        "exp": expires,
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM), expires


def decode(token: str, *, secret: str, audience: str) -> TokenClaims:
    """Verify signature, issuer, audience and expiry; raise a specific error otherwise."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=ISSUER,
            options={"require": ["exp", "sub", "aud", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpiredError(
            "the token has expired; get a new one from /v1/auth/refresh or /v1/auth/token"
        ) from None
    except jwt.InvalidAudienceError:
        raise InvalidTokenError(f"the token is not a {audience} token") from None
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(f"the token is malformed or not signed by Vigil: {exc}") from None
    return TokenClaims(
        subject=str(payload["sub"]),
        name=str(payload.get("name", "")),
        role=str(payload.get("role", "")),
        audience=audience,
        expires_at=dt.datetime.fromtimestamp(int(payload["exp"]), dt.UTC),
        token_id=str(payload.get("jti", "")),
    )
