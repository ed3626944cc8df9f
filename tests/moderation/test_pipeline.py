"""The automatic check of comments and videos on a real migrated store, with the shipped compact
classifier, the fastText language model and the default policy: what is recorded, what is acted
on, what a redelivery or a re-check changes, and that automation never overrides a person."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

import ingest
import moderation
from core import auth
from core.db import Database, utcnow
from core.settings import Settings
from ingest.media.hashing import FrameHash
from moderation import hashbanks, pipeline
from moderation.models import (
    Case,
    Decision,
    ModerationCheck,
    RuleHit,
    Visibility,
    versions_key,
)
from tests.localization.model_cache import fasttext_models_dir

TOXIC_ES = "Eres un idiota de mierda, nadie quiere ver tu cara asquerosa, lárgate"
FRIENDLY_ES = "Qué video tan bonito, me encanta tu gato"
DEFAULT_POLICY = Path(pipeline.__file__).parent / "policies" / "default.yaml"


def _settings(models_dir: Path, policy_file: Path = DEFAULT_POLICY) -> Settings:
    return Settings(
        models_dir=models_dir,
        localization={"langid_detector": "fasttext"},
        moderation={"policy_file": policy_file},
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="module")
def checker() -> pipeline.Checker:
    return pipeline.Checker.from_settings(_settings(fasttext_models_dir()))


def _user(db: Database, name: str, role: str = "viewer", age_days: int = 0) -> str:
    with db.session() as session:
        user, _ = auth.create_user(session, name=name, role=role, generate=False, country="ES")
        user.created_at = utcnow() - dt.timedelta(days=age_days)
        return user.id


def _video(db: Database, creator_id: str, caption: str = "el gato") -> str:
    with db.session() as session:
        video = ingest.Video(creator_id=creator_id, caption=caption, state="ready", region="ES")
        session.add(video)
        session.flush()
        return video.id


def _comment(db: Database, video_id: str, author_id: str, text: str, **kw: object) -> str:
    with db.session() as session:
        comment = ingest.Comment(
            video_id=video_id, author_id=author_id, text=text, region="ES", **kw
        )
        session.add(comment)
        session.flush()
        return comment.id


def _check_comment(
    db: Database, checker: pipeline.Checker, comment_id: str
) -> pipeline.CheckOutcome:
    with db.session() as session:
        outcome = pipeline.check_comment(session, checker, comment_id)
        outcome.events  # noqa: B018 - built inside the session, as the consumer does
        return outcome


def _result(outcome: pipeline.CheckOutcome) -> str:
    assert outcome.evaluation is not None, outcome.skipped
    return outcome.evaluation.outcome


def _count(db: Database, model: type, **where: object) -> int:
    with db.session() as session:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return int(session.scalar(query) or 0)


def test_a_toxic_comment_is_held_in_one_case_and_a_redelivery_changes_nothing(
    database: Database, checker: pipeline.Checker
) -> None:
    author = _user(database, "newcomer", age_days=0)
    video = _video(database, _user(database, "maker", "creator", age_days=90))
    comment = _comment(database, video, author, TOXIC_ES)

    outcome = _check_comment(database, checker, comment)
    assert outcome.skipped is None
    assert _result(outcome) == "hold"
    [event] = outcome.events
    assert (event["action"], event["subject_id"]) == ("hold", comment)

    with database.session() as session:
        check = session.scalars(select(ModerationCheck)).one()
        assert (check.language, check.outcome, check.is_current) == ("es", "hold", True)
        assert check.model_versions == checker.versions
        assert check.signals["account_age_days"] < 1
        # No Argos package in this models directory: the case says so and how to fix it.
        english = check.translation["en"]
        assert english["text"] is None
        assert "no translation model for es->en" in english["error"]
        assert "vigil models install" in english["error"]
        live = {h.rule_id for h in session.scalars(select(RuleHit)) if h.mode == "live"}
        shadow = {h.rule_id for h in session.scalars(select(RuleHit)) if h.mode == "shadow"}
        # A day-old account trips the new-account rule as well as the plain toxicity one.
        assert {"toxicity-hold", "new-account-toxicity"} <= live
        assert "toxicity-hold-lower-threshold" in shadow
        # Every hold of one check makes one case, at the highest priority among them.
        case = session.scalars(select(Case)).one()
        assert case.queue == "es-ES", "Spain's override routes its own content to its team"
        assert {"toxicity-hold", "new-account-toxicity"} <= set(case.rule_ids)
        assert case.priority >= 65
        assert case.check_id == check.id
        decision = session.scalars(select(Decision)).one()
        assert (decision.action, decision.actor) == ("hold", moderation.SYSTEM_ACTOR)
        assert check.decision_id == decision.id
        shown, _ = moderation.visibility_of(
            session, subject_type="comment", subject_id=comment, country="ES"
        )
        assert shown == Visibility.HELD

    again = _check_comment(database, checker, comment)
    assert again.skipped == "already checked"
    assert again.events == []
    assert _count(database, ModerationCheck) == 1
    assert _count(database, Decision) == 1
    assert _count(database, Case) == 1


def test_a_friendly_comment_is_recorded_and_published_without_a_decision(
    database: Database, checker: pipeline.Checker
) -> None:
    author = _user(database, "regular", age_days=400)
    video = _video(database, _user(database, "maker", "creator", age_days=90))
    comment = _comment(database, video, author, FRIENDLY_ES)

    outcome = _check_comment(database, checker, comment)
    assert _result(outcome) == "publish"
    assert outcome.events == []
    with database.session() as session:
        check = session.scalars(select(ModerationCheck)).one()
        assert check.language == "es"
        assert check.scores["toxicity"] < 0.5, check.scores
        assert check.translation is None, "only content held for people is translated"
        assert session.scalar(select(func.count()).select_from(Decision)) == 0
        assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_deleted_and_missing_comments_are_skipped(
    database: Database, checker: pipeline.Checker
) -> None:
    author = _user(database, "gone", age_days=30)
    video = _video(database, _user(database, "maker", "creator", age_days=90))
    comment = _comment(database, video, author, TOXIC_ES, deleted_at=utcnow())
    assert _check_comment(database, checker, comment).skipped == "comment gone"
    assert _check_comment(database, checker, "no-such-comment").skipped == "comment gone"
    assert _count(database, ModerationCheck) == 0


def test_a_policy_change_makes_checks_stale_and_a_recheck_never_overrides_a_person(
    database: Database, checker: pipeline.Checker, tmp_path: Path
) -> None:
    author = _user(database, "author", age_days=30)
    video = _video(database, _user(database, "maker", "creator", age_days=90))
    comment = _comment(database, video, author, TOXIC_ES)
    _check_comment(database, checker, comment)
    with database.session() as session:
        moderator = auth.principal_for(
            auth.create_user(session, name="mod", role="moderator", generate=False)[0]
        )
        case = session.scalars(select(Case)).one()
        moderation.decide_case(
            session, case.id, moderator, "approve", note="banter between friends"
        )
        assert pipeline.stale_subjects(session, checker) == []

    # The same rules under a new version: every current check was made by another policy.
    draft = tmp_path / "policy.yaml"
    draft.write_text(
        DEFAULT_POLICY.read_text().replace('version: "2026.11.1"', 'version: "2026.11.2"')
    )
    newer = pipeline.Checker.from_settings(_settings(fasttext_models_dir(), draft))
    assert newer.versions["policy"] != checker.versions["policy"]
    with database.session() as session:
        assert pipeline.stale_subjects(session, newer) == [("comment", comment)]
        outcome = pipeline.recheck(session, newer, "comment", comment)
        assert _result(outcome) == "hold"
        assert outcome.events == [], "a person approved it: automation records, never acts"
    with database.session() as session:
        checks = session.scalars(select(ModerationCheck).order_by(ModerationCheck.created_at)).all()
        assert [c.is_current for c in checks] == [False, True]
        assert checks[1].policy_version.startswith("2026.11.2")
        assert [d.action for d in session.scalars(select(Decision).order_by(Decision.seq))] == [
            "hold",
            "approve",
        ]
        shown, _ = moderation.visibility_of(
            session, subject_type="comment", subject_id=comment, country="ES"
        )
        assert shown == Visibility.VISIBLE
        assert pipeline.stale_subjects(session, newer) == []
        assert moderation.verify_chain(session).ok


def test_comments_whose_event_was_lost_are_found_after_the_grace_period(
    database: Database, checker: pipeline.Checker
) -> None:
    author = _user(database, "quiet", age_days=30)
    video = _video(database, _user(database, "maker", "creator", age_days=90))
    old = _comment(
        database, video, author, FRIENDLY_ES, created_at=utcnow() - dt.timedelta(minutes=30)
    )
    _comment(database, video, author, "recién publicado, quizá en camino")
    with database.session() as session:
        assert pipeline.stale_subjects(session, checker) == [("comment", old)]
        assert pipeline.stale_subjects(session, checker, now=utcnow() - dt.timedelta(hours=1)) == []
        pipeline.recheck(session, checker, "comment", old)
    with database.session() as session:
        assert pipeline.stale_subjects(session, checker) == []
        with pytest.raises(ValueError, match="unknown subject type 'photo'"):
            pipeline.recheck(session, checker, "photo", old)


def _frames(seed: int, count: int = 12) -> list[FrameHash]:
    rng = random.Random(seed)
    return [FrameHash(i, 100, f"{rng.getrandbits(256):064x}", float(i)) for i in range(count)]


def _store_frames(db: Database, video_id: str, frames: list[FrameHash]) -> None:
    with db.session() as session:
        session.add_all(
            ingest.VideoFrameHash(
                video_id=video_id,
                frame_number=f.frame_number,
                timestamp_s=f.timestamp,
                quality=f.quality,
                pdq=f.pdq_hex,
            )
            for f in frames
        )


def test_a_video_matching_a_bank_is_held_with_its_evidence_until_an_allowlist_suppresses_it(
    database: Database, checker: pipeline.Checker
) -> None:
    creator = _user(database, "reuploader", "creator", age_days=90)
    banked, other = _frames(1), _frames(2)
    matched = _video(database, creator, caption="mira esto")
    clean = _video(database, creator, caption="mira esto")
    _store_frames(database, matched, banked)
    _store_frames(database, clean, other)
    with database.session() as session:
        hashbanks.create_bank(session, "removed-clips")
        entry = hashbanks.add_entry(session, "removed-clips", frames=banked, label="clip 7")
        entry_id = entry.id

    with database.session() as session:
        held = pipeline.check_video(session, checker, matched)
        assert _result(held) == "hold"
        assert {h.rule_id for h in held.evaluation.hits if h.mode == "live"} == {"hash-other-bank"}
        assert held.check is not None
        [match] = held.check.signals["hash_matches"]["matches"]
        assert (match["bank"], match["entry_id"]) == ("removed-clips", entry_id)
        assert match["query_match_percent"] == match["target_match_percent"] == 100.0
        assert held.check.signals["frames_hashed"] == len(banked)
        [case_id] = held.case_ids
        assert session.get(Case, case_id).queue == "media-hash"
        published = pipeline.check_video(session, checker, clean)
        assert _result(published) == "publish"
        assert published.check is not None
        assert published.check.signals["hash_matches"]["matches"] == []

    # The same clip on an allowlist (a negative bank) suppresses the match on re-check; the
    # earlier hold stands until a person reviews it.
    with database.session() as session:
        hashbanks.create_bank(session, "known-benign", negative=True)
        hashbanks.add_entry(session, "known-benign", frames=banked, label="news report")
    with database.session() as session:
        again = pipeline.recheck(session, checker, "video", matched)
        assert _result(again) == "publish"
        assert again.check is not None
        assert again.check.signals["hash_matches"]["matches"] == []


def test_the_recheck_job_finds_other_versions_by_their_indexed_key(
    database: Database, checker: pipeline.Checker
) -> None:
    author = _user(database, "keyed", age_days=30)
    video = _video(database, _user(database, "maker", "creator", age_days=90))
    texts = [FRIENDLY_ES, "otro comentario amable", "y uno más, gracias"]
    comments = [_comment(database, video, author, text) for text in texts]
    for comment in comments:
        _check_comment(database, checker, comment)
    with database.session() as session:
        # A check written by an older worker: only its model_versions say so.
        older = {**checker.versions, "toxicity": "vigil-compact@0.9.0"}
        session.execute(
            update(ModerationCheck)
            .where(ModerationCheck.subject_id == comments[1])
            .values(model_versions=older, versions_key=versions_key(older))
        )
    with database.session() as session:
        keys = dict(
            session.execute(select(ModerationCheck.subject_id, ModerationCheck.versions_key)).all()
        )
        assert keys[comments[0]] == versions_key(checker.versions)
        assert pipeline.stale_subjects(session, checker) == [("comment", comments[1])]
    with database.session() as session:
        session.execute(
            update(ModerationCheck).values(model_versions=older, versions_key=versions_key(older))
        )
    with database.session() as session:
        assert len(pipeline.stale_subjects(session, checker)) == 3
        assert len(pipeline.stale_subjects(session, checker, limit=2)) == 2
