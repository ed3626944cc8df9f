"""User reports: validation, one per reporter and reason, the case they open or bump, and the
counts the policy reads."""

from __future__ import annotations

import datetime as dt

import pytest

from core.db import Database
from core.errors import InvalidInputError, NotFoundError
from moderation import cases, reports, taxonomy
from tests.moderation.test_cases_data import T0, World, build_world


@pytest.fixture
def world(database: Database) -> World:
    return build_world(database)


H = dt.timedelta(hours=1)


def _report(w: World, reporter: int = 0, **kw: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "reporter_id": w.viewers[reporter].id,
        "subject_type": "video",
        "subject_id": w.video_id,
        "reason": "hate",
        "now": T0,
    }
    values.update(kw)
    with w.db.session() as session:
        return reports.file_report(session, **values)  # type: ignore[arg-type]


def test_reasons_are_importable_from_reports() -> None:
    assert reports.REPORT_REASONS is taxonomy.REPORT_REASONS
    assert reports.REPORT_REASONS["minor_safety"] == "Minor safety"


def test_a_report_opens_a_case_in_its_reasons_queue(world: World) -> None:
    report = _report(world, reason="self_harm", details="  they said goodbye  ", region="es")
    assert (report.details, report.region) == ("they said goodbye", "ES")
    with world.db.session() as session:
        case = cases.get_case_or_raise(session, report.case_id)
    assert (case.queue, case.priority, case.reason) == ("self_harm", 80, "self_harm")
    assert case.due_at == T0 + H


def test_reporting_again_changes_nothing(world: World) -> None:
    first = _report(world)
    again = _report(world, details="again!", now=T0 + H)
    assert again.id == first.id
    assert again.details == ""
    with world.db.session() as session:
        assert reports.report_counts(session, "video", world.video_id, now=T0 + H / 2) == {
            "reports_1h": 1,
            "reports_24h": 1,
        }
    # Another reason from the same reporter is another report (same queue, same case).
    harassment = _report(world, reason="harassment")
    assert harassment.id != first.id
    assert harassment.case_id == first.case_id


def test_distinct_reporters_raise_priority_and_tighten_the_deadline(world: World) -> None:
    priorities = []
    for i in range(5):
        report = _report(world, reporter=i, now=T0 + i * dt.timedelta(minutes=1))
        with world.db.session() as session:
            priorities.append(cases.get_case_or_raise(session, report.case_id).priority)
    assert priorities == [65, 70, 75, 80, 85]
    with world.db.session() as session:
        case = cases.get_case_or_raise(session, report.case_id)
    # Base hate: 12 h; at priority 70 an elevated 4 h from the second report, then 1 h at 80.
    assert case.due_at == T0 + 3 * dt.timedelta(minutes=1) + H
    # The same reporter with another reason adds no reporter.
    _report(world, reporter=0, reason="harassment", now=T0 + H)
    with world.db.session() as session:
        assert cases.get_case_or_raise(session, report.case_id).priority == 85


def test_reports_join_an_escalated_case(world: World) -> None:
    first = _report(world)
    with world.db.session() as session:
        escalation = cases.escalate_case(session, first.case_id, world.moderator)
    later = _report(world, reporter=1, reason="spam")
    assert later.case_id == escalation.case.id


def test_unknown_reason_subject_or_reporter_is_refused(world: World) -> None:
    with pytest.raises(
        InvalidInputError, match="unknown report reason 'rude'; valid reasons: hate"
    ):
        _report(world, reason="rude")
    with pytest.raises(NotFoundError, match="no video 'nope'"):
        _report(world, subject_id="nope")
    with pytest.raises(InvalidInputError, match="subject_type must be one of video, comment"):
        _report(world, subject_type="user")
    with pytest.raises(NotFoundError):
        _report(world, reporter_id="0" * 32)
    comment = _report(world, subject_type="comment", subject_id=world.comment_id)
    assert comment.case_id


def test_report_counts_window(world: World) -> None:
    for i, age in enumerate([0.5, 2, 23, 25]):
        _report(world, reporter=i, now=T0 - age * H)
    with world.db.session() as session:
        counts = reports.report_counts(session, "video", world.video_id, now=T0)
        assert counts == {"reports_1h": 1, "reports_24h": 3}
        assert reports.report_counts(session, "comment", world.comment_id, now=T0) == {
            "reports_1h": 0,
            "reports_24h": 0,
        }
