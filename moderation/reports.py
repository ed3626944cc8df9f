"""User reports: someone flags a video or a comment with a reason from the taxonomy.

A report opens (or joins) a case in its reason's queue (``moderation.taxonomy.REASONS``). Every
distinct reporter beyond the first raises the case's priority by :data:`PRIORITY_PER_REPORTER`,
up to :data:`MAX_REPORTER_BONUS` above the reason's base, which can also shorten its deadline.
If the subject is already with senior moderators (an open escalations case), the report joins
that case instead. A reporter reports a subject for a reason once: reporting again returns the
first report. The policy engine reads report counts over time windows (:func:`report_counts`).
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import case, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core import auth
from core.db import new_id, utcnow
from core.errors import InvalidInputError
from core.settings import ModerationSettings

from . import cases, decisions
from .models import Case, Report
from .taxonomy import ESCALATIONS_QUEUE, REASONS, REPORT_REASONS, ReasonSpec

__all__ = [
    "MAX_REPORTER_BONUS",
    "PRIORITY_PER_REPORTER",
    "REASONS",
    "REPORT_REASONS",
    "ReportCreate",
    "ReportOut",
    "file_report",
    "reason_spec",
    "report_counts",
]

PRIORITY_PER_REPORTER = 5
MAX_REPORTER_BONUS = 20
MAX_DETAILS = 2000


class ReportCreate(BaseModel):
    """``POST /v1/reports``."""

    subject_type: str = Field(description="video or comment")
    subject_id: str = Field(min_length=1, max_length=32)
    reason: str = Field(description="A reason code: GET /v1/reports/reasons lists them")
    details: str = Field("", max_length=MAX_DETAILS)


class ReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    subject_type: str
    subject_id: str
    reason: str
    details: str
    region: str | None
    case_id: str | None
    created_at: dt.datetime


def reason_spec(reason: str) -> ReasonSpec:
    """The taxonomy entry of a reason code; InvalidInputError listing the codes otherwise."""
    spec = REASONS.get(reason)
    if spec is None:
        raise InvalidInputError(
            f"unknown report reason {reason!r}; valid reasons: {', '.join(REPORT_REASONS)}",
            details={"field": "reason", "allowed": list(REPORT_REASONS)},
        )
    return spec


def file_report(
    session: Session,
    *,
    reporter_id: str,
    subject_type: str,
    subject_id: str,
    reason: str,
    details: str = "",
    region: str | None = None,
    now: dt.datetime | None = None,
    config: ModerationSettings | None = None,
) -> Report:
    """Record a report and open or bump its case; the same reporter, subject and reason again
    returns the first report unchanged."""
    spec = reason_spec(reason)
    decisions.require_subject(session, subject_type, subject_id)
    auth.get_user_or_raise(session, user_id=reporter_id)
    if len(details) > MAX_DETAILS:
        raise InvalidInputError(
            f"details must be at most {MAX_DETAILS} characters",
            details={"field": "details", "limit": MAX_DETAILS},
        )
    at = now or utcnow()
    existing = _existing(session, reporter_id, subject_type, subject_id, reason)
    if existing is not None:
        return existing
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    report_id = new_id()
    session.execute(
        insert(Report)
        .values(
            id=report_id,
            reporter_id=reporter_id,
            subject_type=subject_type,
            subject_id=subject_id,
            reason=reason,
            details=details.strip(),
            region=region.upper() if region else None,
            created_at=at,
        )
        .on_conflict_do_nothing(
            index_elements=["reporter_id", "subject_type", "subject_id", "reason"]
        )
    )
    report = session.get(Report, report_id)
    if report is None:  # a concurrent identical report won
        found = _existing(session, reporter_id, subject_type, subject_id, reason)
        assert found is not None
        return found
    report.case_id = _case_for_report(session, report, spec, at, config).id
    session.flush()
    return report


def _existing(
    session: Session, reporter_id: str, subject_type: str, subject_id: str, reason: str
) -> Report | None:
    return session.scalar(
        select(Report).where(
            Report.reporter_id == reporter_id,
            Report.subject_type == subject_type,
            Report.subject_id == subject_id,
            Report.reason == reason,
        )
    )


def _case_for_report(
    session: Session,
    report: Report,
    spec: ReasonSpec,
    at: dt.datetime,
    config: ModerationSettings | None,
) -> Case:
    senior = session.scalar(
        select(Case).where(
            Case.subject_type == report.subject_type,
            Case.subject_id == report.subject_id,
            Case.queue == ESCALATIONS_QUEUE,
            Case.status == "open",
        )
    )
    queue = senior.queue if senior is not None else spec.queue
    open_case = senior or session.scalar(
        select(Case).where(
            Case.subject_type == report.subject_type,
            Case.subject_id == report.subject_id,
            Case.queue == queue,
            Case.kind == "review",
            Case.status == "open",
        )
    )
    reporters = 1
    if open_case is not None:
        reporters = int(
            session.scalar(
                select(func.count(func.distinct(Report.reporter_id))).where(
                    or_(Report.case_id == open_case.id, Report.id == report.id)
                )
            )
            or 1
        )
    bonus = min(MAX_REPORTER_BONUS, PRIORITY_PER_REPORTER * (reporters - 1))
    return cases.open_case(
        session,
        subject_type=report.subject_type,
        subject_id=report.subject_id,
        queue=queue,
        priority=min(100, spec.priority + bonus),
        reason=spec.code,
        reason_code=spec.code,
        region=report.region,
        now=at,
        config=config,
    )


def report_counts(
    session: Session, subject_type: str, subject_id: str, now: dt.datetime | None = None
) -> dict[str, int]:
    """Reports of a subject in the last hour and the last 24 hours (policy signals)."""
    at = now or utcnow()
    hour, day = at - dt.timedelta(hours=1), at - dt.timedelta(hours=24)
    in_hour = func.sum(case((Report.created_at > hour, 1), else_=0))
    row = session.execute(
        select(func.count(), in_hour).where(
            Report.subject_type == subject_type,
            Report.subject_id == subject_id,
            Report.created_at > day,
            Report.created_at <= at,
        )
    ).one()
    return {"reports_1h": int(row[1] or 0), "reports_24h": int(row[0] or 0)}
