"""Decisions: the hash chain (canonical form, tamper detection, concurrent writers on both
backends), the visibility derived from the log, strikes from removals, the bus payload."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading

import pytest
from sqlalchemy import func, select, text

import moderation
from core.db import Database
from core.errors import ConflictError, InvalidInputError
from core.settings import ModerationSettings
from moderation import decisions, strikes
from moderation.models import Decision, Strike, SubjectVisibility
from moderation.visibility import rebuild_visibility, visibility_of
from tests.moderation.test_cases_data import T0, World, build_world


@pytest.fixture
def world(database: Database) -> World:
    return build_world(database)


V = moderation.Visibility


def _decide(w: World, action: str, regions=("*",), subject="video", **kw):  # type: ignore[no-untyped-def]
    subject_id = w.video_id if subject == "video" else w.comment_id
    with w.db.session() as session:
        return decisions.apply_decision(
            session,
            subject_type=subject,
            subject_id=subject_id,
            action=action,
            regions=regions,
            reason_code=kw.pop("reason_code", "hate"),
            **kw,
        )


def _verify(w: World) -> decisions.ChainReport:
    with w.db.session() as session:
        return decisions.verify_chain(session)


def _sql(w: World, statement: str, **params: object) -> None:
    with w.db.engine.begin() as connection:
        connection.execute(text(statement), params)


def _seen(w: World, country: str | None, subject: str = "video") -> V:
    subject_id = w.video_id if subject == "video" else w.comment_id
    with w.db.session() as session:
        return visibility_of(session, subject_type=subject, subject_id=subject_id, country=country)[
            0
        ]


def test_the_canonical_form_is_pinned() -> None:
    """Anyone can re-verify the chain from the documented form; this pins it byte for byte."""
    row = {
        "seq": 7,
        "id": "d7",
        "subject_type": "comment",
        "subject_id": "c1",
        "action": "block",
        "regions": ["DE", "FR"],
        "reason_code": "hate",
        "rule_ids": ["r.b", "r.a"],
        "model_versions": {"toxicity": "vigil-compact@1.0.0", "langid": "fasttext@1"},
        "actor": "system",
        "case_id": None,
        "note": "naïve",
        "at": dt.datetime(2026, 3, 1, 13, 0, 5, 12, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        "prev_hash": "ab" * 32,
    }
    expected = (
        '{"action":"block","actor":"system","at":"2026-03-01T12:00:05.000012Z",'
        '"case_id":null,"id":"d7","model_versions":{"langid":"fasttext@1",'
        '"toxicity":"vigil-compact@1.0.0"},"note":"naïve","prev_hash":"' + "ab" * 32 + '",'
        '"reason_code":"hate","regions":["DE","FR"],"rule_ids":["r.b","r.a"],"seq":7,'
        '"subject_id":"c1","subject_type":"comment"}'
    ).encode()
    assert decisions.canonical_content(row) == expected
    assert decisions.chain_hash(row) == hashlib.sha256(expected).hexdigest()


def test_a_removal_hides_everywhere_strikes_the_author_and_chains(world: World) -> None:
    outcome = _decide(world, "remove", rule_ids=("toxicity.high",), model_versions={"t": "m@1"})
    d = outcome.decision
    assert (d.seq, d.prev_hash) == (1, decisions.GENESIS_HASH)
    assert outcome.visibility == {"*": V.REMOVED}
    assert _seen(world, "ES") == V.REMOVED
    assert _seen(world, None) == V.REMOVED
    assert outcome.author is not None
    assert outcome.author.user_id == world.creator.id
    assert outcome.author.active == 1
    assert not outcome.account_restricted
    second = _decide(world, "remove", subject="comment").decision
    assert (second.seq, second.prev_hash) == (2, d.hash)
    report = _verify(world)
    assert report.ok
    assert report.checked == 2
    assert report.head_seq == 2
    assert report.head_hash == second.hash


def test_regions_are_normalized_and_checked(world: World) -> None:
    assert _decide(world, "age_restrict", regions=["fr", "de", "FR"]).decision.regions == [
        "DE",
        "FR",
    ]
    assert _decide(world, "remove", regions=["DE", "*"]).decision.regions == ["*"]
    with pytest.raises(InvalidInputError, match="a block needs the countries"):
        _decide(world, "block", regions=["*"])
    with pytest.raises(InvalidInputError, match=r"ISO 3166-1 alpha-2.*GER"):
        _decide(world, "block", regions=["GER"])
    with pytest.raises(InvalidInputError, match="action must be one of"):
        _decide(world, "delete")
    with (
        pytest.raises(InvalidInputError, match="subject_type must be one of"),
        world.db.session() as session,
    ):
        decisions.record_decision(
            session, subject_type="user", subject_id="x", action="remove", reason_code="spam"
        )
    assert _verify(world).checked == 2  # refused decisions left no row behind


def test_visibility_follows_the_log(world: World) -> None:
    _decide(world, "hold", regions=["ES"])
    assert _seen(world, "ES") == V.HELD
    assert _seen(world, "FR") == V.VISIBLE
    _decide(world, "block", regions=["DE"], reason_code="illegal_activity")
    _decide(world, "age_restrict")
    # A reviewed outcome ends the hold; the age restriction applies everywhere; DE stays blocked.
    assert _seen(world, "ES") == V.AGE_RESTRICTED
    assert _seen(world, "DE") == V.BLOCKED
    _decide(world, "remove")
    assert _seen(world, "FR") == V.REMOVED
    # Approving everywhere lifts holds and verdicts but not a country's legal block.
    _decide(world, "approve", reason_code="no_violation")
    assert _seen(world, "FR") == V.VISIBLE
    assert _seen(world, "DE") == V.BLOCKED
    _decide(world, "limit_distribution")
    assert _seen(world, "FR") == V.LIMITED
    # Approving in DE by name lifts DE's block, not the global limit.
    _decide(world, "approve", regions=["DE"], reason_code="no_violation")
    assert _seen(world, "DE") == V.LIMITED
    # Escalating changes nothing.
    _decide(world, "escalate")
    assert _seen(world, "DE") == V.LIMITED

    with world.db.session() as session:
        before = {
            (r.country, r.visibility, r.decision_id)
            for r in session.scalars(select(SubjectVisibility))
        }
        session.execute(text("DELETE FROM subject_visibility"))
        rebuilt = rebuild_visibility(session, subject_type="video", subject_id=world.video_id)
        after = {
            (r.country, r.visibility, r.decision_id)
            for r in session.scalars(select(SubjectVisibility))
        }
    assert rebuilt == {"*": V.LIMITED}
    assert before == after


def test_approve_clears_rows_written_outside_the_log_too(world: World) -> None:
    with world.db.session() as session:
        moderation.set_visibility(
            session, subject_type="video", subject_id=world.video_id, visibility=V.HELD
        )
    _decide(world, "approve", reason_code="no_violation")
    assert _seen(world, "ES") == V.VISIBLE


def test_strikes_expire_are_revoked_by_approval_and_trip_the_threshold(world: World) -> None:
    config = ModerationSettings(strike_expiry_days=30, strike_restrict_threshold=3)
    author = world.creator.id
    first = _decide(world, "remove", now=T0, config=config)
    assert first.author is not None
    assert first.author.active == 1
    with world.db.session() as session:
        strike = session.scalar(select(Strike).where(Strike.decision_id == first.decision.id))
        assert strike is not None
        assert strike.expires_at == T0 + dt.timedelta(days=30)
    # An approve everywhere reverses the removal and revokes its strike.
    reversal = _decide(world, "approve", reason_code="no_violation", now=T0, config=config)
    assert reversal.revoked_strikes == 1
    with world.db.session() as session:
        assert strikes.active_strikes(session, author, now=T0) == 0
    second = _decide(world, "remove", now=T0 + dt.timedelta(days=1), config=config)
    third = _decide(world, "remove", now=T0 + dt.timedelta(days=2), config=config)
    assert third.author is not None
    assert third.author.active == 2
    assert not third.notes
    fourth = _decide(world, "remove", now=T0 + dt.timedelta(days=3), config=config)
    assert fourth.account_restricted
    assert fourth.notes == ("strike_threshold: 3 active strikes (threshold 3): account restricted",)
    event = decisions.decision_event(fourth)
    assert event["author"] == {
        "user_id": author,
        "strike_id": fourth.author.strike.id,  # type: ignore[union-attr]
        "active_strikes": 3,
        "account_restricted": True,
    }
    with world.db.session() as session:
        # The first of the three expires 30 days after it was given.
        assert strikes.active_strikes(session, author, now=T0 + dt.timedelta(days=31)) == 2
        assert strikes.active_strikes(session, author, now=T0 + dt.timedelta(days=34)) == 0
        assert len(strikes.list_strikes(session, author)) == 4
    assert second.decision.seq < third.decision.seq


def test_a_removal_of_someone_elses_content_strikes_only_that_author(world: World) -> None:
    outcome = _decide(world, "remove", subject="comment")
    assert outcome.author is not None
    assert outcome.author.user_id == world.commenter.id
    with world.db.session() as session:
        assert strikes.active_strikes(session, world.creator.id) == 0
    assert _decide(world, "age_restrict").author is None  # only removals strike


def test_the_event_is_the_decision_tuple_and_json(world: World) -> None:
    outcome = _decide(world, "block", regions=["DE"], rule_ids=["r1"], model_versions={"m": "x"})
    event = decisions.decision_event(outcome)
    json.dumps(event)
    assert {k: event[k] for k in ("subject_type", "subject_id", "action", "regions")} == {
        "subject_type": "video",
        "subject_id": world.video_id,
        "action": "block",
        "regions": ["DE"],
    }
    assert event["rule_ids"] == ["r1"]
    assert event["model_versions"] == {"m": "x"}
    assert event["actor"] == "system"
    assert event["at"].endswith("Z")
    assert event["visibility"] == {"DE": "blocked"}
    assert "author" not in event
    plain = decisions.decision_event(outcome.decision)
    assert "visibility" not in plain
    assert plain["hash"] == outcome.decision.hash


def _three(world: World) -> list[Decision]:
    return [_decide(world, a).decision for a in ("hold", "remove", "approve")]


def test_verify_detects_an_edited_row(world: World) -> None:
    _three(world)
    _sql(world, "UPDATE decisions SET note = 'nothing to see' WHERE seq = 2")
    report = _verify(world)
    assert not report.ok
    assert report.first_bad_seq == 2
    assert "hash does not match the row's content" in (report.problem or "")


def test_verify_detects_an_edit_with_its_hash_recomputed(world: World) -> None:
    rows = _three(world)
    with world.db.session() as session:
        row = session.scalar(select(Decision).where(Decision.seq == 2))
        assert row is not None
        row.action = "approve"
        row.hash = decisions.chain_hash(
            {c.key: getattr(row, c.key) for c in Decision.__table__.columns}
        )
    report = _verify(world)
    assert not report.ok
    assert report.first_bad_seq == 3
    assert rows[2].seq == 3
    assert "prev_hash does not match" in (report.problem or "")


def test_verify_detects_a_deleted_row(world: World) -> None:
    _three(world)
    _sql(world, "DELETE FROM decisions WHERE seq = 2")
    report = _verify(world)
    assert not report.ok
    assert report.first_bad_seq == 2
    assert report.problem == "seq 2 missing (deleted)"


def test_verify_detects_rows_cut_off_the_end(world: World) -> None:
    _three(world)
    _sql(world, "DELETE FROM decisions WHERE seq = 3")
    report = _verify(world)
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "ends at seq 2 but its head records seq 3" in (report.problem or "")


def test_verify_detects_reordered_rows(world: World) -> None:
    _three(world)
    _sql(world, "UPDATE decisions SET seq = -1 WHERE seq = 2")
    _sql(world, "UPDATE decisions SET seq = 2 WHERE seq = 3")
    _sql(world, "UPDATE decisions SET seq = 3 WHERE seq = -1")
    report = _verify(world)
    assert not report.ok
    assert report.first_bad_seq == 2
    assert "prev_hash does not match" in (report.problem or "")


def test_verify_detects_inserted_rows(world: World) -> None:
    rows = _three(world)
    forged = {c.key: getattr(rows[2], c.key) for c in Decision.__table__.columns}
    # A forger who knows the algorithm appends a well-formed row, bypassing record_decision.
    forged.update(seq=4, id="f" * 32, action="remove", prev_hash=rows[2].hash)
    forged["hash"] = decisions.chain_hash(forged)
    with world.db.session() as session:
        session.add(Decision(**forged))
    report = _verify(world)
    assert not report.ok
    assert report.first_bad_seq == 4
    assert "ends at seq 4 but its head records seq 3" in (report.problem or "")
    # A row slipped in before the first one.
    with world.db.session() as session:
        session.execute(text("DELETE FROM decisions WHERE seq = 4"))
        forged.update(seq=0, id="e" * 32, prev_hash=decisions.GENESIS_HASH)
        forged["hash"] = decisions.chain_hash(forged)
        session.add(Decision(**forged))
    report = _verify(world)
    assert not report.ok
    assert report.first_bad_seq == 0
    assert report.problem == "unexpected seq 0 (inserted)"


def test_an_empty_chain_verifies(world: World) -> None:
    report = _verify(world)
    assert report.ok
    assert report.checked == 0
    assert report.head_seq is None


def test_concurrent_writers_keep_one_chain(world: World) -> None:
    """Two threads append at once, each in its own transactions, on each backend."""
    per_thread = 15
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(subject: str) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                with world.db.session() as session:
                    # Read first, as a request would, so a racing writer could read the same head.
                    session.scalar(select(func.count()).select_from(Decision))
                    decisions.record_decision(
                        session,
                        subject_type=subject,
                        subject_id=world.video_id if subject == "video" else world.comment_id,
                        action="hold" if i % 2 else "approve",
                        reason_code="spam",
                        note=f"{subject} {i}",
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s,)) for s in ("video", "comment")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    report = _verify(world)
    assert report.ok, report
    assert report.checked == 2 * per_thread
    assert report.head_seq == 2 * per_thread


def test_a_closed_case_takes_no_more_decisions(world: World) -> None:
    from moderation import cases

    with world.db.session() as session:
        case = cases.open_case(
            session,
            subject_type="video",
            subject_id=world.video_id,
            queue="hate_harassment",
            priority=50,
            reason="hate",
        )
        case_id = case.id
    outcome = _decide(world, "hold", case_id=case_id)
    assert outcome.closed_case_ids == ()  # a hold waits for the case
    outcome = _decide(world, "remove", case_id=case_id)
    assert outcome.closed_case_ids == (case_id,)
    with pytest.raises(ConflictError, match=f"case {case_id} is closed"):
        _decide(world, "approve", case_id=case_id)
    with pytest.raises(InvalidInputError, match="is about video"):
        _decide(world, "approve", subject="comment", case_id=case_id)
