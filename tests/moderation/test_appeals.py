"""Appeals: who may appeal what, once; a senior upholds or overturns, and overturning lifts the
restriction and the strike."""

from __future__ import annotations

import pytest

import moderation
from core.auth import MissingScopeError
from core.db import Database
from core.errors import ConflictError, PermissionDeniedError
from moderation import appeals, cases, decisions, strikes
from moderation.models import Decision
from tests.moderation.test_cases_data import World, build_world


@pytest.fixture
def world(database: Database) -> World:
    return build_world(database)


V = moderation.Visibility


def _decide(w: World, action: str, regions=("*",), actor: str = "system") -> Decision:  # type: ignore[no-untyped-def]
    with w.db.session() as session:
        return decisions.record_decision(
            session,
            subject_type="video",
            subject_id=w.video_id,
            action=action,
            regions=regions,
            reason_code="nudity",
            actor=actor,
        )


def _appeal(w: World, decision_id: str, appellant: str | None = None) -> moderation.models.Appeal:
    with w.db.session() as session:
        return appeals.file_appeal(
            session, decision_id, appellant or w.creator.id, "it is a painting"
        )


def _seen(w: World, country: str) -> V:
    with w.db.session() as session:
        return moderation.visibility_of(
            session, subject_type="video", subject_id=w.video_id, country=country
        )[0]


def test_the_author_appeals_once_into_the_appeals_queue(world: World) -> None:
    removal = _decide(world, "remove")
    appeal = _appeal(world, removal.id)
    assert (appeal.status, appeal.text, appeal.appellant_id) == (
        "open",
        "it is a painting",
        world.creator.id,
    )
    with world.db.session() as session:
        case = cases.get_case_or_raise(session, appeal.case_id)
        assert (case.kind, case.queue, case.due_at - case.opened_at) == (
            "appeal",
            "appeals",
            cases.dt.timedelta(hours=48),
        )
        assert [c.id for c in cases.list_queue(session, "appeals")] == [case.id]
    with pytest.raises(ConflictError, match="was appealed already"):
        _appeal(world, removal.id)
    with pytest.raises(appeals.AppealNotAllowedError, match="only the author"):
        _appeal(world, removal.id, appellant=world.viewers[0].id)


def test_only_restrictions_that_still_stand_can_be_appealed(world: World) -> None:
    hold = _decide(world, "hold")
    with pytest.raises(ConflictError, match="a hold decision cannot be appealed"):
        _appeal(world, hold.id)
    removal = _decide(world, "remove")
    _decide(world, "approve")
    with pytest.raises(ConflictError, match="was reversed already"):
        _appeal(world, removal.id)


def test_overturning_lifts_the_removal_and_revokes_the_strike(world: World) -> None:
    removal = _decide(world, "remove", actor=world.moderator.id)
    appeal = _appeal(world, removal.id)
    with world.db.session() as session:
        assert strikes.active_strikes(session, world.creator.id) == 1
    with world.db.session() as session:
        resolved, outcome = appeals.resolve_appeal(
            session, appeal.id, world.senior, uphold=False, note="art, not nudity"
        )
    assert outcome is not None
    assert resolved.status == "overturned"
    reversal = outcome.decision
    assert (reversal.action, reversal.reason_code, reversal.actor, reversal.regions) == (
        "approve",
        appeals.APPEAL_OVERTURNED,
        world.senior.id,
        ["*"],
    )
    assert resolved.resolution_decision_id == reversal.id
    assert outcome.revoked_strikes == 1
    assert _seen(world, "ES") == V.VISIBLE
    with world.db.session() as session:
        assert strikes.active_strikes(session, world.creator.id) == 0
        case = cases.get_case_or_raise(session, appeal.case_id)
        assert (case.status, case.decision_id) == ("decided", reversal.id)
        assert decisions.verify_chain(session).ok
    with world.db.session() as session, pytest.raises(ConflictError, match="resolved already"):
        appeals.resolve_appeal(session, appeal.id, world.senior, uphold=True)


def test_upholding_changes_nothing_but_the_appeal(world: World) -> None:
    removal = _decide(world, "remove")
    appeal = _appeal(world, removal.id)
    with world.db.session() as session:
        resolved, outcome = appeals.resolve_appeal(
            session, appeal.id, world.senior, uphold=True, note="nudity"
        )
    assert outcome is None
    assert (resolved.status, resolved.resolved_by, resolved.resolution_note) == (
        "upheld",
        world.senior.id,
        "nudity",
    )
    assert _seen(world, "ES") == V.REMOVED
    with world.db.session() as session:
        assert cases.get_case_or_raise(session, appeal.case_id).status == "decided"
        assert strikes.active_strikes(session, world.creator.id) == 1
        assert len(decisions.list_decisions(session)) == 1


def test_overturning_a_block_lifts_it_in_its_countries(world: World) -> None:
    block = _decide(world, "block", regions=["DE", "AT"])
    assert _seen(world, "DE") == V.BLOCKED
    appeal = _appeal(world, block.id)
    with world.db.session() as session:
        _, outcome = appeals.resolve_appeal(session, appeal.id, world.senior, uphold=False)
    assert outcome is not None
    assert outcome.decision.regions == ["AT", "DE"]
    assert _seen(world, "DE") == V.VISIBLE
    assert _seen(world, "AT") == V.VISIBLE


def test_who_may_resolve(world: World) -> None:
    removal = _decide(world, "remove", actor=world.senior.id)
    appeal = _appeal(world, removal.id)
    with world.db.session() as session:
        with pytest.raises(MissingScopeError):
            appeals.resolve_appeal(session, appeal.id, world.moderator, uphold=False)
        with pytest.raises(PermissionDeniedError, match="another senior moderator"):
            appeals.resolve_appeal(session, appeal.id, world.senior, uphold=False)
        with pytest.raises(ConflictError, match="is an appeal: resolve it"):
            cases.decide_case(session, appeal.case_id, world.senior2, "approve")
    with world.db.session() as session:
        assert appeals.resolve_appeal(session, appeal.id, world.senior2, uphold=False)[1]
