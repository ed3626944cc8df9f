"""Auth errors; each maps to 401, 403, 404 or 409 through core.errors."""

from __future__ import annotations

from core.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)


class InvalidCredentialsError(AuthenticationError):
    code = "invalid_credentials"

    def __init__(self) -> None:
        # One message for unknown user and wrong password, so names cannot be probed.
        super().__init__("user name or password is wrong")


class InvalidTokenError(AuthenticationError):
    code = "invalid_token"


class TokenExpiredError(AuthenticationError):
    code = "token_expired"


class MissingCredentialsError(AuthenticationError):
    code = "unauthenticated"

    def __init__(self) -> None:
        super().__init__(
            "this route needs credentials: `Authorization: Bearer <access token or API key>`"
        )


class MissingScopeError(PermissionDeniedError):
    code = "missing_scope"

    def __init__(self, scope: str, principal: str) -> None:
        super().__init__(
            f"{principal} lacks the scope {scope!r} this action needs",
            details={"required_scope": scope},
        )


class UserNotFoundError(NotFoundError):
    code = "user_not_found"


class UserExistsError(ConflictError):
    code = "user_exists"


class ApiKeyNotFoundError(NotFoundError):
    code = "api_key_not_found"


class InvalidUserFieldError(InvalidInputError):
    code = "invalid_user_field"
