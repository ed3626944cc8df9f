"""Roles, scopes and which role holds which scope.

A scope names one capability (``events:write``). Users get the scopes of their role; API keys get
the scopes they were created with. Routes ask for a scope, never for a role, so the matrix below
is the one place that decides who may do what.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MODERATOR = "moderator"
    SENIOR_MODERATOR = "senior_moderator"
    ANALYST = "analyst"
    SRE = "sre"
    CREATOR = "creator"
    VIEWER = "viewer"


class Scope(StrEnum):
    USERS_ADMIN = "users:admin"
    CONFIG_READ = "config:read"
    METRICS_READ = "metrics:read"
    BUS_ADMIN = "bus:admin"
    EVENTS_WRITE = "events:write"
    VIDEOS_WRITE = "videos:write"
    VIDEOS_READ = "videos:read"
    COMMENTS_WRITE = "comments:write"
    FEED_READ = "feed:read"
    MODERATION_REVIEW = "moderation:review"
    MODERATION_SENIOR = "moderation:senior"
    POLICY_ADMIN = "policy:admin"
    ANALYTICS_READ = "analytics:read"


_PLATFORM = {Scope.VIDEOS_READ, Scope.COMMENTS_WRITE, Scope.FEED_READ, Scope.EVENTS_WRITE}

ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: frozenset(Scope),
    Role.SENIOR_MODERATOR: frozenset(
        {Scope.MODERATION_REVIEW, Scope.MODERATION_SENIOR, Scope.POLICY_ADMIN, *_PLATFORM}
    ),
    Role.MODERATOR: frozenset({Scope.MODERATION_REVIEW, *_PLATFORM}),
    Role.ANALYST: frozenset({Scope.ANALYTICS_READ, Scope.VIDEOS_READ}),
    Role.SRE: frozenset({Scope.METRICS_READ, Scope.BUS_ADMIN, Scope.CONFIG_READ}),
    Role.CREATOR: frozenset({Scope.VIDEOS_WRITE, *_PLATFORM}),
    Role.VIEWER: frozenset(_PLATFORM),
}


def parse_scopes(text: str) -> frozenset[Scope]:
    """Scopes from ``a,b`` or ``a b``; raises ValueError naming unknown ones and the known set."""
    names = [part for part in text.replace(",", " ").split() if part]
    known = {scope.value for scope in Scope}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"unknown scope(s) {', '.join(unknown)}; known scopes: {', '.join(sorted(known))}"
        )
    if not names:
        raise ValueError(f"at least one scope is needed; known scopes: {', '.join(sorted(known))}")
    return frozenset(Scope(name) for name in names)
