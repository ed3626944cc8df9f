"""Review cases: work for a human, in queues, with a priority and a deadline.

A case is one subject in one queue. At most one case per (subject, queue, kind) is open at a
time, enforced by a partial unique index so concurrent openers (the pipeline, reports) meet on
the same row: opening again raises its priority, tightens its deadline and adds rule ids.

Deadlines (SLA), first that applies: ``sla_hours`` given by the caller;
``VIGIL_MODERATION__CASE_SLA_HOURS`` by queue, then by reason code; the built-in hours of the
appeals and escalations queues; the reason's hours in the taxonomy (``moderation.taxonomy``);
the priority's hours in :data:`SLA_HOURS_BY_PRIORITY`. A priority above the reason's base can
only shorten the deadline, to now + the priority's hours.

A moderator claims a case before working on it; the claim lapses after
``case_claim_minutes`` so an abandoned case returns to the queue. Deciding, escalating and
claiming are conditional updates (``WHERE status = 'open' AND claim is free or mine``), so two
moderators never both decide one case, on either backend. Cases in the escalations and appeals
queues need the ``moderation:senior`` scope.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import case as sql_case
from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.auth import MissingScopeError, Principal, Scope
from core.db import new_id, utcnow
from core.errors import ConflictError, InvalidInputError, NotFoundError
from core.settings import ModerationSettings

from . import decisions
from .models import Case, Decision, ModerationCheck, Report, RuleHit
from .taxonomy import (
    APPEALS_QUEUE,
    ESCALATIONS_QUEUE,
    PRIORITY_ELEVATED,
    PRIORITY_HIGH,
    PRIORITY_NORMAL,
    QUEUES,
    REASONS,
    is_reason_code,
)
from .visibility import visibility_rows

#: Hours to review by priority: the first row whose priority the case reaches.
SLA_HOURS_BY_PRIORITY: tuple[tuple[int, float], ...] = (
    (PRIORITY_HIGH, 1.0),
    (PRIORITY_ELEVATED, 4.0),
    (PRIORITY_NORMAL, 24.0),
    (0, 72.0),
)
#: Queues with their own deadline whatever the reason.
QUEUE_SLA_HOURS: dict[str, float] = {APPEALS_QUEUE: 48.0, ESCALATIONS_QUEUE: 24.0}
#: Queues only senior moderators work.
SENIOR_QUEUES = frozenset({APPEALS_QUEUE, ESCALATIONS_QUEUE})
#: A moderator's reason code for an approve that found nothing wrong.
NO_VIOLATION = "no_violation"
#: What a moderator may decide on a case (hold is the system's; escalate has its own call).
MODERATOR_ACTIONS = ("approve", "remove", "age_restrict", "block", "limit_distribution")
CASE_KINDS = ("review", "appeal")

_QUEUE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class CaseClaimedError(ConflictError):
    code = "case_claimed"


class CaseClosedError(ConflictError):
    code = "case_closed"


def sla_hours_for_priority(priority: int) -> float:
    for floor, hours in SLA_HOURS_BY_PRIORITY:
        if priority >= floor:
            return hours
    return SLA_HOURS_BY_PRIORITY[-1][1]


def deadline_hours(
    *, queue: str, reason_code: str | None, priority: int, config: ModerationSettings
) -> float:
    """The review deadline, in hours from now, of a case (see the module docstring)."""
    overrides = config.case_sla_hours
    if queue in overrides:
        return float(overrides[queue])
    if reason_code is not None and reason_code in overrides:
        return float(overrides[reason_code])
    if queue in QUEUE_SLA_HOURS:
        return QUEUE_SLA_HOURS[queue]
    by_priority = sla_hours_for_priority(priority)
    spec = REASONS.get(reason_code or "")
    if spec is None:
        return by_priority
    return spec.sla_hours if priority <= spec.priority else min(spec.sla_hours, by_priority)


def _check_queue(queue: str) -> str:
    if not _QUEUE_NAME.match(queue or ""):
        raise InvalidInputError(
            f"queue {queue!r} must be 1 to 64 letters, digits, '_', '-' or '.' (e.g. es-ES)",
            details={"field": "queue"},
        )
    return queue


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _find_open(
    session: Session, subject_type: str, subject_id: str, queue: str, kind: str
) -> Case | None:
    return session.scalar(
        select(Case)
        .where(
            Case.subject_type == subject_type,
            Case.subject_id == subject_id,
            Case.queue == queue,
            Case.kind == kind,
            Case.status == "open",
        )
        .execution_options(populate_existing=True)
    )


def open_case(
    session: Session,
    *,
    subject_type: str,
    subject_id: str,
    queue: str,
    priority: int,
    reason: str,
    region: str | None = None,
    language: str | None = None,
    review_language: str | None = None,
    check_id: str | None = None,
    rule_ids: Sequence[str] = (),
    sla_hours: float | None = None,
    kind: str = "review",
    reason_code: str | None = None,
    escalated_from: str | None = None,
    now: dt.datetime | None = None,
    config: ModerationSettings | None = None,
) -> Case:
    """Open a case, or bump the open one for the same subject, queue and kind.

    ``reason`` is shown to moderators; ``reason_code`` (default: :func:`reason_code_in`
    ``reason``) picks the deadline. Bumping keeps the higher priority, the earlier deadline,
    every rule id, and the latest check.
    """
    config = config or ModerationSettings.model_validate({})
    decisions.check_subject_type(subject_type)
    _check_queue(queue)
    if kind not in CASE_KINDS:
        raise InvalidInputError(
            f"kind must be one of {', '.join(CASE_KINDS)}, not {kind!r}",
            details={"field": "kind"},
        )
    if not 0 <= priority <= 100:
        raise InvalidInputError(
            f"priority must be 0 to 100, not {priority}", details={"field": "priority"}
        )
    at = now or utcnow()
    code = reason_code or reason_code_in(reason)
    hours = (
        sla_hours
        if sla_hours is not None
        else deadline_hours(queue=queue, reason_code=code, priority=priority, config=config)
    )
    if hours <= 0:
        raise InvalidInputError("sla_hours must be positive", details={"field": "sla_hours"})
    due = at + dt.timedelta(hours=hours)
    rules = sorted({str(rule) for rule in rule_ids})

    case = _find_open(session, subject_type, subject_id, queue, kind)
    if case is None:
        case_id = new_id()
        statement = (
            _insert(session)(Case)
            .values(
                id=case_id,
                kind=kind,
                subject_type=subject_type,
                subject_id=subject_id,
                queue=queue,
                priority=priority,
                status="open",
                reason=reason,
                region=region.upper() if region else None,
                language=language,
                review_language=review_language,
                check_id=check_id,
                rule_ids=rules,
                escalated_from=escalated_from,
                opened_at=at,
                due_at=due,
            )
            .on_conflict_do_nothing(
                index_elements=["subject_type", "subject_id", "queue", "kind"],
                index_where=Case.status == "open",
            )
        )
        session.execute(statement)
        inserted = session.get(Case, case_id)
        if inserted is not None:
            return inserted
        # Someone else opened it between our look and our insert: bump theirs.
        case = _find_open(session, subject_type, subject_id, queue, kind)
        if case is None:  # pragma: no cover - closed again in between; open ours afresh
            return open_case(
                session,
                subject_type=subject_type,
                subject_id=subject_id,
                queue=queue,
                priority=priority,
                reason=reason,
                region=region,
                language=language,
                review_language=review_language,
                check_id=check_id,
                rule_ids=rule_ids,
                sla_hours=sla_hours,
                kind=kind,
                reason_code=reason_code,
                escalated_from=escalated_from,
                now=now,
                config=config,
            )
    case.priority = max(case.priority, priority)
    case.due_at = min(case.due_at, due)
    if rules:
        case.rule_ids = sorted(set(case.rule_ids or []) | set(rules))
    case.check_id = check_id or case.check_id
    case.region = case.region or (region.upper() if region else None)
    case.language = case.language or language
    case.review_language = case.review_language or review_language
    session.flush()
    return case


def get_case_or_raise(session: Session, case_id: str) -> Case:
    case = session.get(Case, case_id, populate_existing=True)
    if case is None:
        raise NotFoundError(f"no case {case_id!r}", details={"case_id": case_id})
    return case


def list_queue(
    session: Session,
    queue: str,
    *,
    limit: int = 50,
    include_overdue_first: bool = True,
    now: dt.datetime | None = None,
) -> list[Case]:
    """The open cases of a queue in the order to work them: overdue first (when asked), then
    by priority, then by deadline."""
    at = now or utcnow()
    order: list[Any] = []
    if include_overdue_first:
        order.append(sql_case((Case.due_at < at, 0), else_=1))
    order += [Case.priority.desc(), Case.due_at.asc(), Case.opened_at.asc(), Case.id]
    return list(
        session.scalars(
            select(Case)
            .where(Case.queue == queue, Case.status == "open")
            .order_by(*order)
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class QueueStats:
    queue: str
    open: int
    overdue: int
    claimed: int  # open cases under an unexpired claim
    oldest_age_seconds: float | None  # of the oldest open case; None when empty
    next_due_at: dt.datetime | None


def queue_stats(session: Session, *, now: dt.datetime | None = None) -> list[QueueStats]:
    """Per queue: open, overdue and claimed cases and the oldest one's age. Every built-in
    queue is listed, empty or not, then any other queue with open cases."""
    at = now or utcnow()
    rows = session.execute(
        select(
            Case.queue,
            func.count(),
            func.sum(sql_case((Case.due_at < at, 1), else_=0)),
            func.sum(sql_case((Case.claimed_until > at, 1), else_=0)),
            func.min(Case.opened_at),
            func.min(Case.due_at),
        )
        .where(Case.status == "open")
        .group_by(Case.queue)
    ).all()
    found = {
        row[0]: QueueStats(
            queue=row[0],
            open=int(row[1]),
            overdue=int(row[2] or 0),
            claimed=int(row[3] or 0),
            oldest_age_seconds=max(0.0, (at - row[4]).total_seconds()) if row[4] else None,
            next_due_at=row[5],
        )
        for row in rows
    }
    names = [*QUEUES, *sorted(set(found) - set(QUEUES))]
    return [found.get(name) or QueueStats(name, 0, 0, 0, None, None) for name in names]


def _require_senior_for(case: Case, moderator: Principal) -> None:
    if case.queue in SENIOR_QUEUES and not moderator.has(Scope.MODERATION_SENIOR):
        raise MissingScopeError(Scope.MODERATION_SENIOR.value, moderator.describe())


def _claim_free_or_mine(moderator_id: str, at: dt.datetime) -> Any:
    return or_(
        Case.assigned_to.is_(None),
        Case.assigned_to == moderator_id,
        Case.claimed_until.is_(None),
        Case.claimed_until <= at,
    )


def _refuse(session: Session, case_id: str) -> None:
    """Raise why a conditional update on an open, unclaimed case matched nothing."""
    case = get_case_or_raise(session, case_id)
    if case.status != "open":
        raise CaseClosedError(
            f"case {case_id} is closed ({case.status})",
            details={"case_id": case_id, "status": case.status, "decision_id": case.decision_id},
        )
    until = case.claimed_until.isoformat() if case.claimed_until else None
    raise CaseClaimedError(
        f"case {case_id} is claimed by {case.assigned_to} until {until}",
        details={"case_id": case_id, "assigned_to": case.assigned_to, "claimed_until": until},
    )


def _take(
    session: Session, case_id: str, moderator_id: str, at: dt.datetime, until: dt.datetime | None
) -> Case:
    """Assign an open case whose claim is free or ours, atomically; CaseClaimedError or
    CaseClosedError otherwise."""
    result = session.execute(
        update(Case)
        .where(Case.id == case_id, Case.status == "open", _claim_free_or_mine(moderator_id, at))
        .values(assigned_to=moderator_id, claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        _refuse(session, case_id)
    return get_case_or_raise(session, case_id)


def claim_case(
    session: Session,
    case_id: str,
    moderator: Principal | str,
    *,
    now: dt.datetime | None = None,
    config: ModerationSettings | None = None,
) -> Case:
    """Claim an open case for ``case_claim_minutes`` (again: extend one's own claim).
    CaseClaimedError while another moderator's claim runs."""
    config = config or ModerationSettings.model_validate({})
    moderator_id = moderator if isinstance(moderator, str) else moderator.id
    if not isinstance(moderator, str):
        _require_senior_for(get_case_or_raise(session, case_id), moderator)
    at = now or utcnow()
    until = at + dt.timedelta(minutes=config.case_claim_minutes)
    return _take(session, case_id, moderator_id, at, until)


def release_case(
    session: Session, case_id: str, moderator_id: str, *, now: dt.datetime | None = None
) -> Case:
    """Give up one's claim on a case, returning it to the queue."""
    return _take(session, case_id, moderator_id, now or utcnow(), None)


def _check_reason_code(reason_code: str) -> str:
    if reason_code != NO_VIOLATION and not is_reason_code(reason_code):
        allowed = sorted([*REASONS, NO_VIOLATION])
        raise InvalidInputError(
            f"reason_code {reason_code!r} is not a reason code; use one of {', '.join(allowed)}",
            details={"field": "reason_code", "allowed": allowed},
        )
    return reason_code


def decide_case(
    session: Session,
    case_id: str,
    moderator: Principal,
    action: str,
    regions: Sequence[str] = (decisions.EVERYWHERE,),
    reason_code: str = NO_VIOLATION,
    note: str = "",
    *,
    now: dt.datetime | None = None,
    config: ModerationSettings | None = None,
) -> decisions.DecisionOutcome:
    """A moderator's decision on a review case: recorded in the chain, the case closed.

    Refused on an appeal case (``appeals.resolve_appeal``), on a case another moderator holds a
    claim on, on a closed case, and for ``hold`` and ``escalate`` (:func:`escalate_case`)."""
    case = get_case_or_raise(session, case_id)
    if case.kind == "appeal":
        raise ConflictError(
            f"case {case_id} is an appeal: resolve it with POST /v1/appeals/{{appeal_id}}:resolve",
            details={"case_id": case_id, "kind": case.kind},
        )
    _require_senior_for(case, moderator)
    if action not in MODERATOR_ACTIONS:
        hint = " (escalate has its own call)" if action == "escalate" else ""
        raise InvalidInputError(
            f"action must be one of {', '.join(MODERATOR_ACTIONS)}, not {action!r}{hint}",
            details={"field": "action", "allowed": list(MODERATOR_ACTIONS)},
        )
    _check_reason_code(reason_code)
    at = now or utcnow()
    _take(session, case_id, moderator.id, at, None)
    return decisions.apply_decision(
        session,
        subject_type=case.subject_type,
        subject_id=case.subject_id,
        action=action,
        regions=regions,
        reason_code=reason_code,
        rule_ids=case.rule_ids or (),
        actor=moderator.id,
        case_id=case.id,
        note=note,
        now=at,
        config=config,
    )


@dataclass(frozen=True)
class Escalation:
    """An escalated case: the ``escalate`` decision that closed it and the senior case."""

    outcome: decisions.DecisionOutcome
    case: Case


_TRAILING_CODE = re.compile(r"\(([a-z_]+)\)\s*$")


def reason_code_in(reason: str) -> str | None:
    """The taxonomy code a case reason names: the whole reason, or a trailing ``(code)`` as in
    the pipeline's ``rule toxicity.high (hate)``."""
    if is_reason_code(reason):
        return reason
    found = _TRAILING_CODE.search(reason or "")
    return found.group(1) if found and is_reason_code(found.group(1)) else None


def _reason_code_of(case: Case) -> str:
    return reason_code_in(case.reason) or "other"


def escalate_case(
    session: Session,
    case_id: str,
    moderator: Principal,
    note: str = "",
    *,
    now: dt.datetime | None = None,
    config: ModerationSettings | None = None,
) -> Escalation:
    """Hand a case to senior moderators: an ``escalate`` decision closes it (status
    ``escalated``, visibility unchanged) and a case opens in the escalations queue with at
    least elevated priority and no later deadline than the original."""
    config = config or ModerationSettings.model_validate({})
    case = get_case_or_raise(session, case_id)
    if case.kind == "appeal" or case.queue in SENIOR_QUEUES:
        raise ConflictError(
            f"case {case_id} is already with senior moderators ({case.queue}); decide it",
            details={"case_id": case_id, "queue": case.queue},
        )
    at = now or utcnow()
    _take(session, case_id, moderator.id, at, None)
    code = _reason_code_of(case)
    outcome = decisions.apply_decision(
        session,
        subject_type=case.subject_type,
        subject_id=case.subject_id,
        action="escalate",
        reason_code=code,
        rule_ids=case.rule_ids or (),
        actor=moderator.id,
        case_id=case.id,
        note=note,
        now=at,
        config=config,
    )
    senior = open_case(
        session,
        subject_type=case.subject_type,
        subject_id=case.subject_id,
        queue=ESCALATIONS_QUEUE,
        priority=max(case.priority, PRIORITY_ELEVATED),
        reason=f"escalated from {case.queue}: {case.reason}" + (f" ({note})" if note else ""),
        reason_code=code,
        region=case.region,
        language=case.language,
        review_language=case.review_language,
        check_id=case.check_id,
        rule_ids=case.rule_ids or (),
        escalated_from=case.id,
        now=at,
        config=config,
    )
    senior.due_at = min(senior.due_at, case.due_at)
    session.flush()
    return Escalation(outcome=outcome, case=senior)


# --- what a moderator sees ----------------------------------------------------------------------


class CaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    subject_type: str
    subject_id: str
    queue: str
    priority: int
    status: str
    reason: str
    region: str | None
    language: str | None
    review_language: str | None
    check_id: str | None
    rule_ids: list[str]
    assigned_to: str | None
    claimed_until: dt.datetime | None
    escalated_from: str | None
    opened_at: dt.datetime
    due_at: dt.datetime
    closed_at: dt.datetime | None
    decision_id: str | None


class QueueStatsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    queue: str
    open: int
    overdue: int
    claimed: int
    oldest_age_seconds: float | None
    next_due_at: dt.datetime | None


class RuleHitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rule_id: str
    policy_version: str
    mode: str
    action: str
    queue: str | None
    priority: int | None
    countries: list[str]
    reason_code: str | None


class CheckOut(BaseModel):
    """The pipeline's latest check of the subject: why it was flagged."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    language: str | None
    language_confidence: float | None
    normalized_text: str | None
    translation: dict[str, Any] | None
    scores: dict[str, Any]
    model_versions: dict[str, Any]
    signals: dict[str, Any]
    policy_version: str
    outcome: str
    created_at: dt.datetime
    rule_hits: list[RuleHitOut]


class ReportSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    reporter_id: str | None
    reason: str
    details: str
    region: str | None
    created_at: dt.datetime


class DecisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    id: str
    subject_type: str
    subject_id: str
    action: str
    regions: list[str]
    reason_code: str
    rule_ids: list[str]
    model_versions: dict[str, Any]
    actor: str
    case_id: str | None
    note: str
    at: dt.datetime
    prev_hash: str
    hash: str


class VisibilityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    country: str
    visibility: str
    reason: str | None
    decision_id: str | None


class CaseDetail(BaseModel):
    """Everything a moderator needs to decide a case."""

    case: CaseOut
    subject: dict[str, Any] | None  # the video or comment as stored; None when it is gone
    check: CheckOut | None
    reports: list[ReportSummary]
    decisions: list[DecisionOut]
    visibility: list[VisibilityOut]


def _subject_view(row: Any, subject_type: str) -> dict[str, Any] | None:
    if row is None:
        return None
    if subject_type == "video":
        return {
            "id": row.id,
            "creator_id": row.creator_id,
            "caption": row.caption,
            "hashtags": list(row.hashtags or []),
            "language": row.language,
            "region": row.region,
            "state": row.state,
            "duration_s": row.duration_s,
            "created_at": row.created_at,
        }
    return {
        "id": row.id,
        "video_id": row.video_id,
        "author_id": row.author_id,
        "parent_id": row.parent_id,
        "text": row.text,
        "language": row.language,
        "region": row.region,
        "created_at": row.created_at,
        "deleted_at": row.deleted_at,
    }


def latest_check(session: Session, subject_type: str, subject_id: str) -> CheckOut | None:
    """The subject's current check (the newest when several are marked current), with its
    rule hits."""
    check = session.scalar(
        select(ModerationCheck)
        .where(
            ModerationCheck.subject_type == subject_type,
            ModerationCheck.subject_id == subject_id,
        )
        .order_by(ModerationCheck.is_current.desc(), ModerationCheck.created_at.desc())
        .limit(1)
    )
    if check is None:
        return None
    hits = session.scalars(
        select(RuleHit).where(RuleHit.check_id == check.id).order_by(RuleHit.rule_id)
    ).all()
    return CheckOut.model_validate(
        {
            **{name: getattr(check, name) for name in CheckOut.model_fields if name != "rule_hits"},
            "rule_hits": [RuleHitOut.model_validate(hit) for hit in hits],
        }
    )


def case_detail(session: Session, case_id: str) -> CaseDetail:
    """The case with its subject, the latest check (scores, translation, rule hits), the
    subject's reports, decisions and current visibility."""
    case = get_case_or_raise(session, case_id)
    subject = decisions.get_subject(session, case.subject_type, case.subject_id)
    reports = session.scalars(
        select(Report)
        .where(Report.subject_type == case.subject_type, Report.subject_id == case.subject_id)
        .order_by(Report.created_at.desc())
        .limit(200)
    ).all()
    history = session.scalars(
        select(Decision)
        .where(Decision.subject_type == case.subject_type, Decision.subject_id == case.subject_id)
        .order_by(Decision.seq)
    ).all()
    return CaseDetail(
        case=CaseOut.model_validate(case),
        subject=_subject_view(subject, case.subject_type),
        check=latest_check(session, case.subject_type, case.subject_id),
        reports=[ReportSummary.model_validate(r) for r in reports],
        decisions=[DecisionOut.model_validate(d) for d in history],
        visibility=[
            VisibilityOut.model_validate(row)
            for row in visibility_rows(
                session, subject_type=case.subject_type, subject_id=case.subject_id
            )
        ],
    )
