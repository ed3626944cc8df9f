"""Reports, review queues and cases, decisions and their chain, appeals.

Every decision commits first, with its event in the outbox, and is then published on
``moderation.decided`` (the worker resends it if that fails): the visibility table is already
updated in the same transaction, so the event tells the feed, search and audit consumers what
changed rather than carrying the only copy of it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import CurrentPrincipal, DbSession, RequireScope, ServicesDep, SettingsDep, requires
from core import auth
from core.auth import Principal, Scope
from core.errors import PermissionDeniedError
from core.runtime import Services
from moderation import appeals, cases, decisions, outbox, reports
from moderation.taxonomy import REASONS

router = APIRouter(tags=["moderation"])


class RequireSignedInUser(RequireScope):
    """A signed-in user holding ``comments:write`` or ``videos:read`` (every platform user):
    reports and appeals come from people, so API keys are refused."""

    def __init__(self) -> None:
        super().__init__(Scope.VIDEOS_READ)

    def __call__(self, principal: CurrentPrincipal) -> Principal:
        if not (principal.has(Scope.COMMENTS_WRITE) or principal.has(Scope.VIDEOS_READ)):
            principal.require(Scope.VIDEOS_READ)
        if principal.kind != "user":
            raise PermissionDeniedError(
                f"{principal.describe()} cannot report or appeal: a signed-in user does"
            )
        return principal


SignedInUser = Annotated[Principal, Depends(RequireSignedInUser())]


# --- request and response bodies -----------------------------------------------------------------


class ReasonOut(BaseModel):
    code: str
    label: str
    description: str


class DecideIn(BaseModel):
    action: str = Field(description=f"One of {', '.join(cases.MODERATOR_ACTIONS)}")
    regions: list[str] = Field(
        default_factory=lambda: ["*"],
        description='"*" for everywhere, or ISO 3166-1 alpha-2 countries (a block needs them)',
    )
    reason_code: str = Field(
        cases.NO_VIOLATION, description="A report reason code, or no_violation"
    )
    note: str = Field("", max_length=5000)


class EscalateIn(BaseModel):
    note: str = Field("", max_length=5000)


class AuthorStanding(BaseModel):
    user_id: str
    active_strikes: int
    account_restricted: bool


class DecisionResult(BaseModel):
    """A recorded decision and what it did."""

    decision: cases.DecisionOut
    visibility: dict[str, str]  # region -> visibility after it; absent regions are visible
    author: AuthorStanding | None
    revoked_strikes: int
    closed_case_ids: list[str]
    notes: list[str]


class EscalationOut(BaseModel):
    decision: DecisionResult
    case: cases.CaseOut  # the new case in the escalations queue


class AppealResolved(BaseModel):
    appeal: appeals.AppealOut
    decision: DecisionResult | None  # the reversing approve, when overturned


class ChainReportOut(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None
    problem: str | None
    head_seq: int | None
    head_hash: str | None


def _result(outcome: decisions.DecisionOutcome) -> DecisionResult:
    author = outcome.author
    return DecisionResult(
        decision=cases.DecisionOut.model_validate(outcome.decision),
        visibility={region: str(v) for region, v in outcome.visibility.items()},
        author=AuthorStanding(
            user_id=author.user_id,
            active_strikes=author.active,
            account_restricted=author.account_restricted,
        )
        if author
        else None,
        revoked_strikes=outcome.revoked_strikes,
        closed_case_ids=list(outcome.closed_case_ids),
        notes=list(outcome.notes),
    )


async def _publish(services: Services, outcome: decisions.DecisionOutcome) -> None:
    """Send the committed decision's event; if the bus fails, the decision stands and the worker
    resends the event from the outbox (the answer is the decision either way)."""
    await outbox.publish(services.bus, services.db, [decisions.decision_event(outcome)])


# --- reports -------------------------------------------------------------------------------------


@router.get(
    "/v1/reports/reasons",
    summary="The reasons a report may give (the taxonomy)",
    dependencies=[Depends(RequireSignedInUser())],
)
def report_reasons() -> list[ReasonOut]:
    return [
        ReasonOut(code=spec.code, label=spec.label, description=spec.description)
        for spec in REASONS.values()
    ]


@router.post("/v1/reports", status_code=201, summary="Report a video or a comment")
def file_report(
    body: reports.ReportCreate, db: DbSession, principal: SignedInUser, settings: SettingsDep
) -> reports.ReportOut:
    reporter = auth.get_user_or_raise(db, user_id=principal.id)
    report = reports.file_report(
        db,
        reporter_id=reporter.id,
        subject_type=body.subject_type,
        subject_id=body.subject_id,
        reason=body.reason,
        details=body.details,
        region=reporter.country,
        config=settings.moderation,
    )
    db.commit()
    return reports.ReportOut.model_validate(report)


# --- queues and cases ----------------------------------------------------------------------------


@router.get(
    "/v1/moderation/queues",
    summary="Every queue: open, overdue and claimed cases, oldest age",
    dependencies=[requires(Scope.MODERATION_REVIEW)],
)
def queues(db: DbSession) -> list[cases.QueueStatsOut]:
    return [cases.QueueStatsOut.model_validate(s) for s in cases.queue_stats(db)]


@router.get(
    "/v1/moderation/queues/{queue}/cases",
    summary="A queue's open cases in working order: overdue, then priority, then deadline",
    dependencies=[requires(Scope.MODERATION_REVIEW)],
)
def queue_cases(
    queue: str,
    db: DbSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    overdue_first: bool = True,
) -> list[cases.CaseOut]:
    found = cases.list_queue(db, queue, limit=limit, include_overdue_first=overdue_first)
    return [cases.CaseOut.model_validate(case) for case in found]


@router.get(
    "/v1/moderation/cases/{case_id}",
    summary="A case with its subject, latest check (scores, translation, rule hits), reports, "
    "decisions and visibility",
    dependencies=[requires(Scope.MODERATION_REVIEW)],
)
def get_case(case_id: str, db: DbSession) -> cases.CaseDetail:
    return cases.case_detail(db, case_id)


@router.post(
    "/v1/moderation/cases/{case_id}:claim",
    summary="Claim a case so no other moderator works it (lapses after case_claim_minutes)",
    dependencies=[requires(Scope.MODERATION_REVIEW)],
)
def claim_case(
    case_id: str, db: DbSession, principal: CurrentPrincipal, settings: SettingsDep
) -> cases.CaseOut:
    case = cases.claim_case(db, case_id, principal, config=settings.moderation)
    db.commit()
    return cases.CaseOut.model_validate(case)


@router.post(
    "/v1/moderation/cases/{case_id}:release",
    summary="Give up one's claim on a case",
    dependencies=[requires(Scope.MODERATION_REVIEW)],
)
def release_case(case_id: str, db: DbSession, principal: CurrentPrincipal) -> cases.CaseOut:
    case = cases.release_case(db, case_id, principal.id)
    db.commit()
    return cases.CaseOut.model_validate(case)


@router.post(
    "/v1/moderation/cases/{case_id}:decide",
    summary="Decide a case: approve, remove, age_restrict, block (countries), limit_distribution",
    dependencies=[requires(Scope.MODERATION_REVIEW)],
)
async def decide_case(
    case_id: str,
    body: DecideIn,
    db: DbSession,
    principal: CurrentPrincipal,
    services: ServicesDep,
) -> DecisionResult:
    def decide() -> decisions.DecisionOutcome:
        outcome = cases.decide_case(
            db,
            case_id,
            principal,
            body.action,
            body.regions,
            body.reason_code,
            body.note,
            config=services.settings.moderation,
        )
        db.commit()
        return outcome

    outcome = await run_in_threadpool(decide)
    await _publish(services, outcome)
    return _result(outcome)


@router.post(
    "/v1/moderation/cases/{case_id}:escalate",
    summary="Hand a case to senior moderators (the escalations queue)",
    dependencies=[requires(Scope.MODERATION_REVIEW)],
)
async def escalate_case(
    case_id: str,
    body: EscalateIn,
    db: DbSession,
    principal: CurrentPrincipal,
    services: ServicesDep,
) -> EscalationOut:
    def escalate() -> cases.Escalation:
        escalation = cases.escalate_case(
            db, case_id, principal, body.note, config=services.settings.moderation
        )
        db.commit()
        return escalation

    escalation = await run_in_threadpool(escalate)
    await _publish(services, escalation.outcome)
    return EscalationOut(
        decision=_result(escalation.outcome), case=cases.CaseOut.model_validate(escalation.case)
    )


# --- appeals -------------------------------------------------------------------------------------


@router.post("/v1/appeals", status_code=201, summary="Appeal a decision against one's content")
def file_appeal(
    body: appeals.AppealCreate, db: DbSession, principal: SignedInUser, settings: SettingsDep
) -> appeals.AppealOut:
    appeal = appeals.file_appeal(
        db, body.decision_id, principal.id, body.text, config=settings.moderation
    )
    db.commit()
    return appeals.AppealOut.model_validate(appeal)


@router.post(
    "/v1/appeals/{appeal_id}:resolve",
    summary="Uphold or overturn an appeal (a senior moderator who did not make the decision)",
    dependencies=[requires(Scope.MODERATION_SENIOR)],
)
async def resolve_appeal(
    appeal_id: str,
    body: appeals.AppealResolve,
    db: DbSession,
    principal: CurrentPrincipal,
    services: ServicesDep,
) -> AppealResolved:
    def resolve() -> tuple[Any, decisions.DecisionOutcome | None]:
        resolved = appeals.resolve_appeal(
            db, appeal_id, principal, body.uphold, body.note, config=services.settings.moderation
        )
        db.commit()
        return resolved

    appeal, outcome = await run_in_threadpool(resolve)
    if outcome is not None:
        await _publish(services, outcome)
    return AppealResolved(
        appeal=appeals.AppealOut.model_validate(appeal),
        decision=_result(outcome) if outcome else None,
    )


# --- the decision log ----------------------------------------------------------------------------


@router.get(
    "/v1/moderation/decisions",
    summary="Decisions, newest first; of one subject with ?subject=TYPE:ID",
    dependencies=[requires(Scope.MODERATION_REVIEW)],
)
def list_decisions(
    db: DbSession,
    subject: Annotated[str | None, Query(description="video:ID or comment:ID")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_seq: Annotated[int | None, Query(description="Only decisions before this seq")] = None,
) -> list[cases.DecisionOut]:
    kind, subject_id = decisions.parse_subject(subject) if subject else (None, None)
    rows = decisions.list_decisions(
        db, subject_type=kind, subject_id=subject_id, limit=limit, before_seq=before_seq
    )
    return [cases.DecisionOut.model_validate(row) for row in rows]


@router.get(
    "/v1/moderation/decisions:verify",
    summary="Verify the decision hash chain: ok, or the first seq where it breaks and how",
    dependencies=[requires(Scope.MODERATION_REVIEW)],
)
def verify_decisions(db: DbSession) -> ChainReportOut:
    return ChainReportOut(**decisions.verify_chain(db).to_json())
