"""Strikes: what a removal costs its author, for how long, and when an account crosses the line.

Every ``remove`` decision gives the subject's author one strike (``decisions.record_decision``).
A strike counts while it is active: given, not yet expired (``strike_expiry_days`` after it was
given, 90 by default) and not revoked. An ``approve`` of the same subject everywhere (an appeal
overturned, a moderator reversing the system) revokes the strikes of its earlier removals.

Threshold: at ``strike_restrict_threshold`` active strikes (3 by default) the decision's outcome
says ``account_restricted`` and carries a ``strike_threshold`` note, and the
``moderation.decided`` event says so, for the account side to restrict posting. Strikes are
counted, not weighted: every removal costs the same, so the threshold reads the same to every
creator.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.db import utcnow

from .models import Strike


@dataclass(frozen=True)
class StrikeStatus:
    """A user's standing after a decision."""

    user_id: str
    active: int  # active strikes now
    threshold: int  # active strikes at which the account is restricted
    strike: Strike | None = None  # the strike this decision gave, if any

    @property
    def account_restricted(self) -> bool:
        return self.active >= self.threshold

    @property
    def note(self) -> str | None:
        """``strike_threshold: ...`` once the threshold is reached, else None."""
        if not self.account_restricted:
            return None
        return (
            f"strike_threshold: {self.active} active strikes (threshold {self.threshold}): "
            "account restricted"
        )


def give_strike(
    session: Session,
    *,
    user_id: str,
    decision_id: str,
    reason_code: str,
    expiry_days: float,
    now: dt.datetime | None = None,
) -> Strike:
    """One strike for ``user_id`` from a removal; idempotent per decision."""
    existing = session.scalar(select(Strike).where(Strike.decision_id == decision_id))
    if existing is not None:
        return existing
    at = now or utcnow()
    strike = Strike(
        user_id=user_id,
        decision_id=decision_id,
        reason_code=reason_code,
        severity=1,
        created_at=at,
        expires_at=at + dt.timedelta(days=expiry_days),
    )
    session.add(strike)
    session.flush()
    return strike


def _active(user_id: str, now: dt.datetime):  # type: ignore[no-untyped-def]
    return (
        Strike.user_id == user_id,
        Strike.revoked_at.is_(None),
        Strike.created_at <= now,
        Strike.expires_at > now,
    )


def active_strikes(session: Session, user_id: str, now: dt.datetime | None = None) -> int:
    """How many of ``user_id``'s strikes count at ``now`` (given, unexpired, unrevoked)."""
    at = now or utcnow()
    return int(
        session.scalar(select(func.count()).select_from(Strike).where(*_active(user_id, at))) or 0
    )


def list_strikes(session: Session, user_id: str) -> list[Strike]:
    """Every strike of a user, newest first, active or not."""
    return list(
        session.scalars(
            select(Strike).where(Strike.user_id == user_id).order_by(Strike.created_at.desc())
        )
    )


def revoke_strikes(
    session: Session, *, decision_ids: Iterable[str], now: dt.datetime | None = None
) -> int:
    """Revoke the unrevoked strikes given by these decisions; returns how many."""
    ids = list(decision_ids)
    if not ids:
        return 0
    result = session.execute(
        update(Strike)
        .where(Strike.decision_id.in_(ids), Strike.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def strike_status(
    session: Session,
    user_id: str,
    *,
    threshold: int,
    strike: Strike | None = None,
    now: dt.datetime | None = None,
) -> StrikeStatus:
    """``user_id``'s active strikes against the restriction threshold."""
    return StrikeStatus(
        user_id=user_id,
        active=active_strikes(session, user_id, now),
        threshold=threshold,
        strike=strike,
    )
