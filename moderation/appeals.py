"""Appeals: the author of a subject asks for a decision against it to be looked at again.

Only the subject's author may appeal, once per decision, and only a decision that restricts
(remove, age_restrict, block, limit_distribution) and has not been reversed already. An appeal
opens a case in the ``appeals`` queue (kind ``appeal``). A senior moderator other than the one who
made the decision resolves it: upheld (nothing changes, the appeal records who and why), or
overturned (an ``approve`` decision in the regions of the old one, which lifts its restriction
and revokes the strike it gave; see ``moderation.visibility`` and ``moderation.strikes``).
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.auth import MissingScopeError, Principal, Scope
from core.db import new_id, utcnow
from core.errors import ConflictError, NotFoundError, PermissionDeniedError
from core.settings import ModerationSettings

from . import cases, decisions
from .models import Appeal, Case, Decision
from .taxonomy import APPEALS_QUEUE, PRIORITY_NORMAL

#: The reason code of the decision that overturns an appealed one.
APPEAL_OVERTURNED = "appeal_overturned"
MAX_APPEAL_TEXT = 5000


class AppealCreate(BaseModel):
    """``POST /v1/appeals``."""

    decision_id: str = Field(min_length=1, max_length=32)
    text: str = Field("", max_length=MAX_APPEAL_TEXT, description="Why the decision is wrong")


class AppealResolve(BaseModel):
    """``POST /v1/appeals/{appeal_id}:resolve``."""

    uphold: bool = Field(description="true keeps the decision; false overturns it")
    note: str = Field("", max_length=MAX_APPEAL_TEXT)


class AppealOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    decision_id: str
    appellant_id: str
    text: str
    status: str
    case_id: str | None
    resolution_decision_id: str | None
    resolved_by: str | None
    resolution_note: str
    created_at: dt.datetime
    resolved_at: dt.datetime | None


class AppealNotAllowedError(PermissionDeniedError):
    code = "appeal_not_allowed"


def get_appeal_or_raise(session: Session, appeal_id: str) -> Appeal:
    appeal = session.get(Appeal, appeal_id)
    if appeal is None:
        raise NotFoundError(f"no appeal {appeal_id!r}", details={"appeal_id": appeal_id})
    return appeal


def file_appeal(
    session: Session,
    decision_id: str,
    appellant_id: str,
    text: str = "",
    *,
    now: dt.datetime | None = None,
    config: ModerationSettings | None = None,
) -> Appeal:
    """The author's appeal against a decision, with its case in the appeals queue."""
    decision = decisions.get_decision_or_raise(session, decision_id)
    author = decisions.subject_author(session, decision.subject_type, decision.subject_id)
    if author is None or author != appellant_id:
        raise AppealNotAllowedError(
            f"only the author of {decision.subject_type} {decision.subject_id} may appeal "
            f"decision {decision_id}",
            details={"decision_id": decision_id},
        )
    if decision.action not in decisions.APPEALABLE_ACTIONS:
        raise ConflictError(
            f"a {decision.action} decision cannot be appealed; appealable: "
            f"{', '.join(sorted(decisions.APPEALABLE_ACTIONS))}",
            details={"decision_id": decision_id, "action": decision.action},
        )
    earlier = session.scalar(select(Appeal).where(Appeal.decision_id == decision_id))
    if earlier is not None:
        raise ConflictError(
            f"decision {decision_id} was appealed already (appeal {earlier.id}, {earlier.status})",
            details={"decision_id": decision_id, "appeal_id": earlier.id},
        )
    reversal = session.scalar(
        select(Decision.id).where(
            Decision.subject_type == decision.subject_type,
            Decision.subject_id == decision.subject_id,
            Decision.action == "approve",
            Decision.seq > decision.seq,
        )
    )
    if reversal is not None:
        raise ConflictError(
            f"decision {decision_id} was reversed already by decision {reversal}",
            details={"decision_id": decision_id, "reversed_by": reversal},
        )
    at = now or utcnow()
    case = cases.open_case(
        session,
        subject_type=decision.subject_type,
        subject_id=decision.subject_id,
        queue=APPEALS_QUEUE,
        kind="appeal",
        priority=PRIORITY_NORMAL,
        reason=f"appeal of {decision.action} ({decision.reason_code}), decision {decision.id}",
        reason_code=decision.reason_code,
        rule_ids=decision.rule_ids or (),
        now=at,
        config=config,
    )
    appeal_id = new_id()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(Appeal)
        .values(
            id=appeal_id,
            decision_id=decision_id,
            appellant_id=appellant_id,
            text=text.strip(),
            status="open",
            case_id=case.id,
            resolution_note="",
            created_at=at,
        )
        .on_conflict_do_nothing(index_elements=["decision_id", "appellant_id"])
    )
    appeal = session.get(Appeal, appeal_id)
    if appeal is None:  # a concurrent appeal of the same decision won
        raise ConflictError(
            f"decision {decision_id} was appealed already", details={"decision_id": decision_id}
        )
    return appeal


def resolve_appeal(
    session: Session,
    appeal_id: str,
    senior: Principal,
    uphold: bool,
    note: str = "",
    *,
    now: dt.datetime | None = None,
    config: ModerationSettings | None = None,
) -> tuple[Appeal, decisions.DecisionOutcome | None]:
    """Uphold or overturn an appeal; returns the appeal and, when overturned, the outcome of
    the reversing ``approve`` (to publish on ``moderation.decided`` after commit)."""
    if not senior.has(Scope.MODERATION_SENIOR):
        raise MissingScopeError(Scope.MODERATION_SENIOR.value, senior.describe())
    appeal = get_appeal_or_raise(session, appeal_id)
    if appeal.status != "open":
        raise ConflictError(
            f"appeal {appeal_id} is resolved already ({appeal.status})",
            details={"appeal_id": appeal_id, "status": appeal.status},
        )
    decision = decisions.get_decision_or_raise(session, appeal.decision_id)
    if decision.actor == senior.id:
        raise PermissionDeniedError(
            f"decision {decision.id} was {senior.describe()}'s own; another senior moderator "
            "resolves its appeal",
            details={"appeal_id": appeal_id},
        )
    at = now or utcnow()
    outcome = None
    if not uphold:
        others_open = session.scalar(
            select(Appeal.id).where(
                Appeal.case_id == appeal.case_id, Appeal.status == "open", Appeal.id != appeal.id
            )
        )
        outcome = decisions.apply_decision(
            session,
            subject_type=decision.subject_type,
            subject_id=decision.subject_id,
            action="approve",
            regions=decision.regions if decision.action == "block" else (decisions.EVERYWHERE,),
            reason_code=APPEAL_OVERTURNED,
            rule_ids=decision.rule_ids or (),
            actor=senior.id,
            # The case closes with this decision unless it carries other open appeals.
            case_id=None if others_open else appeal.case_id,
            note=note or f"appeal {appeal.id} overturned decision {decision.id}",
            now=at,
            config=config,
        )
        appeal.resolution_decision_id = outcome.decision.id
    else:
        _close_if_last(session, appeal, at)
    appeal.status = "upheld" if uphold else "overturned"
    appeal.resolved_by = senior.id
    appeal.resolution_note = note
    appeal.resolved_at = at
    session.flush()
    return appeal, outcome


def _close_if_last(session: Session, appeal: Appeal, at: dt.datetime) -> None:
    """Close an upheld appeal's case unless it carries other open appeals."""
    if appeal.case_id is None:
        return
    others = session.scalar(
        select(Appeal.id).where(
            Appeal.case_id == appeal.case_id, Appeal.status == "open", Appeal.id != appeal.id
        )
    )
    case = session.get(Case, appeal.case_id)
    if others is None and case is not None and case.status == "open":
        case.status = "decided"
        case.closed_at = at
        case.claimed_until = None


def appeals_of_case(session: Session, case_id: str) -> list[Appeal]:
    return list(
        session.scalars(select(Appeal).where(Appeal.case_id == case_id).order_by(Appeal.created_at))
    )
