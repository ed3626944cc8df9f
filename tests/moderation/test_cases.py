"""Cases and queues: one open case per subject and queue, deadlines, queue order and stats,
claims that keep two moderators apart, deciding and escalating."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from core.auth import MissingScopeError
from core.db import Database
from core.errors import ConflictError, InvalidInputError
from core.settings import ModerationSettings
from moderation import cases, taxonomy
from moderation.models import Case
from tests.moderation.test_cases_data import T0, World, build_world


@pytest.fixture
def world(database: Database) -> World:
    return build_world(database)


H = dt.timedelta(hours=1)


def _open(w: World, **kw: object) -> Case:
    values: dict[str, object] = {
        "subject_type": "video",
        "subject_id": w.video_id,
        "queue": "hate_harassment",
        "priority": 50,
        "reason": "hate",
        "now": T0,
    }
    values.update(kw)
    with w.db.session() as session:
        return cases.open_case(session, **values)  # type: ignore[arg-type]


def test_the_taxonomy_routes_every_reason() -> None:
    assert len(taxonomy.REASONS) == len(taxonomy.REPORT_REASONS) == 18
    for code in ("minor_safety", "self_harm"):
        spec = taxonomy.REASONS[code]
        assert spec.priority == taxonomy.PRIORITY_HIGH
        assert spec.sla_hours == 1
    assert all(spec.description and spec.label for spec in taxonomy.REASONS.values())
    assert {"appeals", "escalations"} <= set(taxonomy.QUEUES)


def test_open_case_is_idempotent_and_bumps(world: World) -> None:
    first = _open(world, rule_ids=["r1"], check_id="c1")
    assert first.due_at == T0 + 12 * H  # hate: 12 hours at its base priority
    again = _open(world, priority=80, rule_ids=["r2"], check_id="c2", now=T0 + H)
    assert again.id == first.id
    assert again.priority == 80
    assert again.due_at == T0 + 2 * H  # priority 80 shortens it to an hour from now
    assert again.rule_ids == ["r1", "r2"]
    assert again.check_id == "c2"
    lower = _open(world, priority=10, now=T0 + 2 * H)
    assert lower.priority == 80
    assert lower.due_at == T0 + 2 * H
    other_queue = _open(world, queue="violence")
    appeal = _open(world, kind="appeal", queue="hate_harassment")
    assert len({first.id, other_queue.id, appeal.id}) == 3


def test_deadlines_come_from_the_caller_settings_queue_reason_or_priority(world: World) -> None:
    config = ModerationSettings(case_sla_hours={"legal": 100, "spam": 7})
    assert _open(world, queue="q1", reason="self_harm").due_at == T0 + H
    assert _open(world, queue="q2", reason="something else", priority=50).due_at == T0 + 24 * H
    assert _open(world, queue="q3", reason="free text", reason_code="spam", priority=30).due_at == (
        T0 + 72 * H
    )
    assert _open(world, queue="q4", reason="spam", config=config).due_at == T0 + 7 * H
    assert _open(world, queue="legal", reason="spam", config=config).due_at == T0 + 100 * H
    assert _open(world, queue="appeals", reason="hate").due_at == T0 + 48 * H
    assert _open(world, queue="q5", reason="hate", sla_hours=0.5).due_at == T0 + 0.5 * H
    # The pipeline's reasons name their code last, in parentheses.
    pipeline = _open(world, queue="q6", reason="rule toxicity.self (self_harm)", priority=50)
    assert pipeline.due_at == T0 + H


def test_open_case_refuses_bad_input(world: World) -> None:
    with pytest.raises(InvalidInputError, match="queue 'Bad Queue'"):
        _open(world, queue="Bad Queue")
    with pytest.raises(InvalidInputError, match="priority must be 0 to 100"):
        _open(world, priority=101)
    with pytest.raises(InvalidInputError, match="kind must be one of review, appeal"):
        _open(world, kind="other")


def test_concurrent_openers_share_one_case(world: World) -> None:
    barrier = threading.Barrier(4)
    opened: list[str] = []

    def opener() -> None:
        barrier.wait()
        opened.append(_open(world).id)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(opened) == 4
    assert len(set(opened)) == 1
    with world.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_queue_order_and_stats(world: World) -> None:
    late = _open(world, priority=30, reason="spam", now=T0 - 100 * H)  # due T0 - 28 h
    urgent = _open(world, subject_type="comment", subject_id=world.comment_id, priority=90)
    with world.db.session() as session:
        ids = [c.id for c in cases.list_queue(session, "hate_harassment", limit=10, now=T0)]
        assert ids == [late.id, urgent.id]
        ids = [
            c.id
            for c in cases.list_queue(
                session, "hate_harassment", limit=10, include_overdue_first=False, now=T0
            )
        ]
        assert ids == [urgent.id, late.id]
        cases.claim_case(session, urgent.id, world.moderator.id, now=T0)
        stats = {s.queue: s for s in cases.queue_stats(session, now=T0)}
    hate = stats["hate_harassment"]
    assert (hate.open, hate.overdue, hate.claimed) == (2, 1, 1)
    assert hate.oldest_age_seconds == 100 * 3600
    assert stats["minor_safety"].open == 0
    assert stats["appeals"].oldest_age_seconds is None
    assert list(stats)[: len(taxonomy.QUEUES)] == list(taxonomy.QUEUES)


def test_claims_keep_two_moderators_apart_until_they_lapse(world: World) -> None:
    case = _open(world)
    config = ModerationSettings(case_claim_minutes=30)
    with world.db.session() as session:
        claimed = cases.claim_case(session, case.id, world.moderator, now=T0, config=config)
        assert claimed.assigned_to == world.moderator.id
        assert claimed.claimed_until == T0 + dt.timedelta(minutes=30)
    with world.db.session() as session, pytest.raises(cases.CaseClaimedError, match="claimed by"):
        cases.claim_case(session, case.id, world.moderator2, now=T0 + dt.timedelta(minutes=10))
    with world.db.session() as session, pytest.raises(cases.CaseClaimedError):
        cases.decide_case(
            session, case.id, world.moderator2, "approve", now=T0 + dt.timedelta(minutes=10)
        )
    # The claimer extends; after it lapses, anyone may take it.
    with world.db.session() as session:
        cases.claim_case(session, case.id, world.moderator, now=T0 + dt.timedelta(minutes=20))
    with world.db.session() as session:
        taken = cases.claim_case(session, case.id, world.moderator2, now=T0 + 2 * H)
        assert taken.assigned_to == world.moderator2.id
        released = cases.release_case(session, case.id, world.moderator2.id, now=T0 + 2 * H)
        assert released.claimed_until is None
        assert cases.claim_case(session, case.id, world.moderator, now=T0 + 2 * H)


def test_decide_records_closes_and_refuses_a_second_decision(world: World) -> None:
    case = _open(world)
    with world.db.session() as session:
        outcome = cases.decide_case(
            session, case.id, world.moderator, "block", ["DE"], "illegal_activity", "german law"
        )
    decision = outcome.decision
    assert (decision.actor, decision.case_id, decision.note) == (
        world.moderator.id,
        case.id,
        "german law",
    )
    with world.db.session() as session:
        closed = cases.get_case_or_raise(session, case.id)
        assert (closed.status, closed.decision_id) == ("decided", decision.id)
        with pytest.raises(cases.CaseClosedError, match="closed"):
            cases.decide_case(session, case.id, world.moderator2, "approve")
        with pytest.raises(cases.CaseClosedError):
            cases.claim_case(session, case.id, world.moderator2)


def test_decide_checks_action_and_reason(world: World) -> None:
    case = _open(world)
    with world.db.session() as session:
        with pytest.raises(InvalidInputError, match="escalate has its own call"):
            cases.decide_case(session, case.id, world.moderator, "escalate")
        with pytest.raises(InvalidInputError, match="action must be one of approve, remove"):
            cases.decide_case(session, case.id, world.moderator, "hold")
        with pytest.raises(InvalidInputError, match="reason_code 'rude' is not a reason code"):
            cases.decide_case(session, case.id, world.moderator, "remove", reason_code="rude")


def test_two_moderators_deciding_at_once_get_one_decision(world: World) -> None:
    case = _open(world)
    barrier = threading.Barrier(2)
    results: list[object] = []

    def decide(moderator: object) -> None:
        barrier.wait()
        try:
            with world.db.session() as session:
                cases.decide_case(session, case.id, moderator, "remove", reason_code="hate")  # type: ignore[arg-type]
            results.append("decided")
        except ConflictError as exc:
            results.append(exc.code)

    threads = [
        threading.Thread(target=decide, args=(m,)) for m in (world.moderator, world.moderator2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == ["case_closed", "decided"]


def test_escalation_moves_the_case_to_seniors(world: World) -> None:
    case = _open(world, priority=50, rule_ids=["r1"], region="ES", language="es")
    with world.db.session() as session:
        escalation = cases.escalate_case(
            session, case.id, world.moderator, "is this satire?", now=T0 + H
        )
    assert escalation.outcome.decision.action == "escalate"
    assert escalation.outcome.visibility == {}
    senior_case = escalation.case
    assert senior_case.queue == "escalations"
    assert senior_case.escalated_from == case.id
    assert senior_case.priority == taxonomy.PRIORITY_ELEVATED
    assert senior_case.due_at == case.due_at  # no later than the original
    assert (senior_case.region, senior_case.rule_ids) == ("ES", ["r1"])
    with world.db.session() as session:
        assert cases.get_case_or_raise(session, case.id).status == "escalated"
        with pytest.raises(MissingScopeError):
            cases.decide_case(session, senior_case.id, world.moderator, "approve")
        with pytest.raises(MissingScopeError):
            cases.claim_case(session, senior_case.id, world.moderator)
        with pytest.raises(ConflictError, match="already with senior moderators"):
            cases.escalate_case(session, senior_case.id, world.senior)
    with world.db.session() as session:
        outcome = cases.decide_case(
            session, senior_case.id, world.senior, "age_restrict", reason_code="hate"
        )
    assert outcome.closed_case_ids == (senior_case.id,)


def test_a_removal_everywhere_closes_the_subjects_other_review_cases(world: World) -> None:
    hate = _open(world)
    spam = _open(world, queue="integrity", reason="spam")
    with world.db.session() as session:
        outcome = cases.decide_case(session, hate.id, world.moderator, "remove", reason_code="hate")
    assert set(outcome.closed_case_ids) == {hate.id, spam.id}
    with world.db.session() as session:
        assert cases.list_queue(session, "integrity") == []


def test_case_detail_has_subject_check_reports_decisions_visibility(world: World) -> None:
    from moderation.models import ModerationCheck, RuleHit

    with world.db.session() as session:
        check = ModerationCheck(
            subject_type="comment",
            subject_id=world.comment_id,
            content_sha256="0" * 64,
            language="es",
            translation={
                "target": "en",
                "text": "you are an idiot",
                "model": "argos",
                "error": None,
            },
            scores={"toxicity": 0.93},
            model_versions={"toxicity": "vigil-compact@1"},
            signals={"region": "ES"},
            policy_version="1+abc",
            outcome="hold",
        )
        session.add(check)
        session.flush()
        session.add(
            RuleHit(
                check_id=check.id,
                subject_type="comment",
                subject_id=world.comment_id,
                rule_id="toxicity.hold",
                policy_version="1+abc",
                mode="live",
                action="hold",
                queue="hate_harassment",
                priority=60,
                countries=["ES"],
                reason_code="harassment",
            )
        )
        case = cases.open_case(
            session,
            subject_type="comment",
            subject_id=world.comment_id,
            queue="hate_harassment",
            priority=60,
            reason="rule toxicity.hold (harassment)",
            check_id=check.id,
            rule_ids=["toxicity.hold"],
        )
        case_id = case.id
    with world.db.session() as session:
        detail = cases.case_detail(session, case_id)
    assert detail.subject is not None
    assert detail.subject["text"] == "eres un idiota"
    assert detail.check is not None
    assert detail.check.translation["text"] == "you are an idiot"
    assert [h.rule_id for h in detail.check.rule_hits] == ["toxicity.hold"]
    assert detail.reports == []
    assert detail.decisions == []
    assert detail.visibility == []
    # The pipeline's case reason names the code in parentheses; escalation finds it.
    assert cases._reason_code_of(case) == "harassment"
