"""The automatic check of a comment or a video, from its text and media to a recorded outcome.

For every subject the pipeline runs, in this order:

1. language identification on the original text (normalizing first would hurt it);
2. normalization against evasion (leetspeak, repeats, inserted spaces and symbols, homoglyphs);
3. the toxicity classifier on the normalized text, and the watched terms of the subject's region;
4. for videos, the frame hashes from the media worker against the hash banks;
5. the policy (global rules plus the region's overrides) over all of those signals;
6. the record: one ``moderation_checks`` row with every signal, score and version, a
   ``rule_hits`` row per live or shadow hit, and for each live action a decision in the chain
   (a hold also opens a case in the rule's queue). Shadow hits are recorded and never acted on.

A check is idempotent: a redelivered message for content already checked with the same models and
policy changes nothing. The re-check job (:func:`stale_subjects`, :func:`recheck`) re-runs subjects
whose current check was made by another model or policy version.

Translation happens here too, so a case opens with the text already in its queue's review
language and in the default review language; the review console translates on demand for a
moderator who reads another language (cached).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

import ingest
from core.auth import User
from core.db import utcnow
from core.settings import Settings
from localization import (
    UNDETERMINED,
    LanguageDetector,
    LanguageGuess,
    Region,
    Translator,
    load_regions,
)
from localization import open_detector as open_language_detector

from . import cases, decisions, hashbanks, reports, strikes
from .classifiers import TextClassifier, TextScores, open_text_classifier
from .models import Decision, ModerationCheck, RuleHit, versions_key
from .normalize import NormalizedText, normalize
from .policy import Evaluation, Policy, RuleResult, Signals, load_policy
from .terms import TermHit, WatchedTerms

log = logging.getLogger(__name__)

#: Actions that need no decision: the content simply stays up.
_NO_ACTION = "publish"


@dataclass(frozen=True)
class TextAnalysis:
    """What the text checks found in one text, before any policy."""

    text: str
    normalized: NormalizedText
    language: LanguageGuess
    scores: TextScores
    terms: tuple[TermHit, ...]


@dataclass
class CheckOutcome:
    """What one check recorded; ``events`` go on ``moderation.decided`` after the commit."""

    check: ModerationCheck | None
    evaluation: Evaluation | None
    decided: list[decisions.DecisionOutcome] = field(default_factory=list)
    case_ids: list[str] = field(default_factory=list)
    skipped: str | None = None  # why nothing was done (already checked, subject gone)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [decisions.decision_event(d) for d in self.decided]


class Checker:
    """The models, term lists and policy one worker loads once and uses for every subject."""

    def __init__(
        self,
        settings: Settings,
        *,
        detector: LanguageDetector,
        classifier: TextClassifier,
        translator: Translator,
        terms: WatchedTerms,
        policy: Policy,
        regions: Mapping[str, Region],
    ) -> None:
        self.settings = settings
        self.detector = detector
        self.classifier = classifier
        self.translator = translator
        self.terms = terms
        self.policy = policy
        self.regions = regions
        # Lists that ``scope: viewers`` rules name (e.g. a country's legally banned symbols) are
        # matched on content from every region, not only on content from their own.
        self._viewer_lists = policy.viewer_term_lists
        self._viewer_regions = tuple(
            code for code in terms.regions if set(terms.lists(code)) & self._viewer_lists
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Checker:
        """Load everything named by ``settings``; raises ModelMissingError or PolicyError with
        the missing file or the offending rule."""
        regions = load_regions(settings.moderation.regions_dir)
        terms = WatchedTerms.from_regions(regions)
        every_list = {name for code in (None, *terms.regions) for name in terms.lists(code)}
        return cls(
            settings,
            detector=open_language_detector(settings),
            classifier=open_text_classifier(settings),
            translator=Translator(
                settings.effective_models_dir,
                cache_size=settings.localization.translation_cache_size,
            ),
            terms=terms,
            # A rule naming a term list no region defines is refused at load, not silently 0.
            policy=load_policy(settings.moderation.policy_file, regions, term_lists=every_list),
            regions=regions,
        )

    @property
    def versions(self) -> dict[str, str]:
        """``role -> name@version`` of everything that shaped a check: stored with each check
        and each decision, and compared by the re-check job."""
        return {
            "langid": f"{self.detector.name}@{self.detector.version}",
            "toxicity": f"{self.classifier.name}@{self.classifier.version}",
            "policy": self.policy.version,
        }

    def analyze(
        self, texts: Sequence[str], regions: Sequence[str | None] | None = None
    ) -> list[TextAnalysis]:
        """Language, normalized form, scores and watched-term hits of each text (no database)."""
        regions = regions if regions is not None else [None] * len(texts)
        normalized = [normalize(text) for text in texts]
        languages = self.detector.detect_many(texts)
        scores = self.classifier.classify([n.text for n in normalized])
        return [
            TextAnalysis(
                text=text,
                normalized=norm,
                language=language,
                scores=score,
                terms=self._terms(norm, region),
            )
            for text, norm, language, score, region in zip(
                texts, normalized, languages, scores, regions, strict=True
            )
        ]

    def _terms(self, text: NormalizedText, region: str | None) -> tuple[TermHit, ...]:
        hits = self.terms.match(text, region)
        own = region.upper() if region else None
        for other in self._viewer_regions:
            if other != own:
                hits += [
                    hit
                    for hit in self.terms.match(text, other)
                    if hit.list_name in self._viewer_lists and hit.region == other
                ]
        return tuple(hits)

    def review_languages(self, region: str | None) -> list[str]:
        """Languages a case from ``region`` is pre-translated into: the region's review language
        and the default one (moderators reading anything else get it on demand)."""
        wanted = [self.settings.localization.default_review_language]
        found = self.regions.get(region.upper()) if region else None
        if found is not None:
            wanted.insert(0, found.review_language)
        return list(dict.fromkeys(wanted))

    def translations(self, text: str, language: str, region: str | None) -> dict[str, Any]:
        """``target -> {text, model, error}`` for the review languages that differ from the
        text's own; an undetermined language is not translated (and says so)."""
        out: dict[str, Any] = {}
        source, assumed = language, False
        found = self.regions.get(region.upper()) if region else None
        if language == UNDETERMINED and found is not None and found.languages:
            # Too short or mixed to tell: the author's country's main language is the best
            # guess, and the translation says it was a guess.
            source, assumed = found.languages[0], True
        for target in self.review_languages(region):
            if target == source:
                continue
            if source == UNDETERMINED:
                out[target] = {
                    "text": None,
                    "model": None,
                    "error": "language undetermined; nothing to translate from",
                }
                continue
            done = self.translator.translate(text, source, target)
            out[target] = {
                "text": done.text,
                "model": done.model,
                "error": done.error,
                "source": source,
                "source_assumed": assumed,
            }
        return out


_SHARED: dict[tuple[object, ...], Checker] = {}
_SHARED_LOCK = threading.Lock()


def shared_checker(settings: Settings) -> Checker:
    """One :class:`Checker` per process and configuration: the worker's consumers and the API's
    ``comments:analyze`` share the loaded models instead of holding two copies."""
    key = (
        str(settings.effective_models_dir.resolve()),
        settings.moderation.model_dump_json(),
        settings.localization.model_dump_json(),
    )
    with _SHARED_LOCK:
        checker = _SHARED.get(key)
        if checker is None:
            checker = _SHARED[key] = Checker.from_settings(settings)
        return checker


def content_sha256(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def _signals(
    session: Session,
    *,
    subject_type: str,
    subject_id: str,
    author_id: str | None,
    region: str | None,
    analysis: TextAnalysis | None,
    hash_banks: Sequence[str] = (),
    now: dt.datetime,
) -> Signals:
    user = session.get(User, author_id) if author_id else None
    age = None if user is None else (now - user.created_at).total_seconds() / 86400
    counts = dict(reports.report_counts(session, subject_type, subject_id, now=now))
    if author_id and subject_type == "comment":
        counts["author_comments_1h"] = int(
            session.scalar(
                select(func.count())
                .select_from(ingest.Comment)
                .where(
                    ingest.Comment.author_id == author_id,
                    ingest.Comment.created_at >= now - dt.timedelta(hours=1),
                )
            )
            or 0
        )
    return Signals(
        subject_type=subject_type,
        region=region.upper() if region else None,
        language=analysis.language.language if analysis else UNDETERMINED,
        scores=dict(analysis.scores.scores) if analysis else {},
        terms=tuple(sorted({hit.list_name for hit in analysis.terms})) if analysis else (),
        hash_banks=tuple(sorted(set(hash_banks))),
        account_age_days=age,
        prior_strikes=strikes.active_strikes(session, author_id, now=now) if author_id else 0,
        counts=counts,
    )


def _already_checked(
    session: Session, subject_type: str, subject_id: str, sha: str, versions: Mapping[str, str]
) -> bool:
    current = session.scalars(
        select(ModerationCheck).where(
            ModerationCheck.subject_type == subject_type,
            ModerationCheck.subject_id == subject_id,
            ModerationCheck.is_current.is_(True),
        )
    ).first()
    return (
        current is not None
        and current.content_sha256 == sha
        and current.model_versions == dict(versions)
    )


def _human_decided(session: Session, subject_type: str, subject_id: str) -> bool:
    """Whether a person has decided this subject: automation never overrides them."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Decision)
            .where(
                Decision.subject_type == subject_type,
                Decision.subject_id == subject_id,
                Decision.actor != decisions.SYSTEM_ACTOR,
            )
        )
        or 0
    ) > 0


def _record(
    session: Session,
    checker: Checker,
    *,
    subject_type: str,
    subject_id: str,
    author_id: str | None,
    region: str | None,
    sha: str,
    analysis: TextAnalysis | None,
    signals: Signals,
    extra_signals: Mapping[str, Any],
    now: dt.datetime,
) -> CheckOutcome:
    """Evaluate the policy over ``signals`` and record the check, its rule hits and, for the live
    actions, decisions (and the case a hold opens)."""
    evaluation = checker.policy.evaluate(signals)
    versions = checker.versions
    session.execute(
        update(ModerationCheck)
        .where(
            ModerationCheck.subject_type == subject_type,
            ModerationCheck.subject_id == subject_id,
            ModerationCheck.is_current.is_(True),
        )
        .values(is_current=False)
    )
    language = analysis.language if analysis else None
    check = ModerationCheck(
        subject_type=subject_type,
        subject_id=subject_id,
        content_sha256=sha,
        region=signals.region,
        language=language.language if language else None,
        language_confidence=language.confidence if language else None,
        normalized_text=analysis.normalized.text if analysis else None,
        translation=(
            checker.translations(analysis.text, language.language, region)
            if analysis and language and evaluation.outcome != _NO_ACTION
            else None
        ),
        scores=dict(analysis.scores.scores) if analysis else {},
        model_versions=versions,
        versions_key=versions_key(versions),
        signals={**signals.to_json(), **extra_signals},
        policy_version=evaluation.policy_version,
        outcome=evaluation.outcome,
        is_current=True,
        created_at=now,
    )
    session.add(check)
    session.flush()
    for hit in evaluation.hits:
        session.add(
            RuleHit(
                check_id=check.id,
                subject_type=subject_type,
                subject_id=subject_id,
                rule_id=hit.rule_id,
                policy_version=evaluation.policy_version,
                mode=hit.mode,
                action=hit.action,
                queue=hit.queue,
                priority=hit.priority,
                countries=list(hit.countries),
                reason_code=hit.reason_code,
                created_at=now,
            )
        )
    outcome = CheckOutcome(check=check, evaluation=evaluation)
    if evaluation.outcome == _NO_ACTION or _human_decided(session, subject_type, subject_id):
        session.flush()
        return outcome
    model_versions = {**versions, "toxicity_attributes": ",".join(sorted(check.scores))}
    for kind, group in _grouped(evaluation.actions):
        top = group[0]
        case_id = None
        if kind == "hold":
            # One case however many rules hold it: in the queue a country's own rules route to
            # (its review team owns its content), else the top rule's; the highest priority.
            routed = next((a for a in group if a.override), top)
            case = cases.open_case(
                session,
                subject_type=subject_type,
                subject_id=subject_id,
                queue=routed.queue or "default",
                priority=max(a.priority if a.priority is not None else 50 for a in group),
                reason=f"rule {routed.rule_id} ({routed.reason_code})",
                region=signals.region,
                language=check.language,
                review_language=checker.review_languages(signals.region)[0],
                check_id=check.id,
                rule_ids=[a.rule_id for a in group],
                reason_code=routed.reason_code,
                now=now,
                config=checker.settings.moderation,
            )
            case_id = case.id
            outcome.case_ids.append(case.id)
        countries = sorted({c for a in group for c in a.countries})
        decided = decisions.apply_decision(
            session,
            subject_type=subject_type,
            subject_id=subject_id,
            action=kind,
            regions=tuple(countries) or (decisions.EVERYWHERE,),
            reason_code=top.reason_code,
            rule_ids=tuple(a.rule_id for a in group),
            model_versions=model_versions,
            actor=decisions.SYSTEM_ACTOR,
            case_id=case_id,
            note=f"policy {evaluation.policy_version}",
            author_id=author_id,
            now=now,
            config=checker.settings.moderation,
        )
        outcome.decided.append(decided)
    check.decision_id = outcome.decided[0].decision.id if outcome.decided else None
    session.flush()
    return outcome


def _grouped(actions: Sequence[RuleResult]) -> list[tuple[str, list[RuleResult]]]:
    """Live actions by kind, in the policy's order (most severe first): one decision each."""
    groups: dict[str, list[RuleResult]] = {}
    for action in actions:
        groups.setdefault(action.action, []).append(action)
    return list(groups.items())


def check_comment(
    session: Session, checker: Checker, comment_id: str, *, force: bool = False
) -> CheckOutcome:
    """Check one comment (the ``comment.created`` handler and the re-check job)."""
    comment = session.get(ingest.Comment, comment_id)
    if comment is None or comment.deleted_at is not None:
        return CheckOutcome(check=None, evaluation=None, skipped="comment gone")
    sha = content_sha256(comment.text)
    if not force and _already_checked(session, "comment", comment.id, sha, checker.versions):
        return CheckOutcome(check=None, evaluation=None, skipped="already checked")
    now = utcnow()
    [analysis] = checker.analyze([comment.text], [comment.region])
    signals = _signals(
        session,
        subject_type="comment",
        subject_id=comment.id,
        author_id=comment.author_id,
        region=comment.region,
        analysis=analysis,
        now=now,
    )
    extra = {
        "terms_hit": [_term_json(hit) for hit in analysis.terms],
        "normalization": list(analysis.normalized.changes),
        "declared_language": comment.language,
    }
    return _record(
        session,
        checker,
        subject_type="comment",
        subject_id=comment.id,
        author_id=comment.author_id,
        region=comment.region,
        sha=sha,
        analysis=analysis,
        signals=signals,
        extra_signals=extra,
        now=now,
    )


def check_video(
    session: Session, checker: Checker, video_id: str, *, force: bool = False
) -> CheckOutcome:
    """Check one transcoded video: its caption and hashtags as text, its frames against the hash
    banks (the ``video.transcoded`` handler and the re-check job)."""
    video = session.get(ingest.Video, video_id)
    if video is None:
        return CheckOutcome(check=None, evaluation=None, skipped="video gone")
    frames = hashbanks.stored_frames(session, video.id)
    text = " ".join([video.caption or "", *(f"#{tag}" for tag in video.hashtags or [])]).strip()
    sha = content_sha256(text, *(frame.pdq_hex for frame in frames))
    if not force and _already_checked(session, "video", video.id, sha, checker.versions):
        return CheckOutcome(check=None, evaluation=None, skipped="already checked")
    now = utcnow()
    analysis = checker.analyze([text], [video.region])[0] if text else None
    config = checker.settings.moderation
    search = hashbanks.search_video(
        session,
        frames,
        distance_threshold=config.hash_distance_threshold,
        quality_threshold=config.hash_quality_threshold,
        min_query_percent=config.hash_min_query_percent,
        min_target_percent=config.hash_min_target_percent,
    )
    signals = _signals(
        session,
        subject_type="video",
        subject_id=video.id,
        author_id=video.creator_id,
        region=video.region,
        analysis=analysis,
        hash_banks=search.banks,
        now=now,
    )
    extra = {
        "hash_matches": search.to_json(max_frames=20),
        "terms_hit": [_term_json(hit) for hit in analysis.terms] if analysis else [],
        "frames_hashed": len(frames),
    }
    return _record(
        session,
        checker,
        subject_type="video",
        subject_id=video.id,
        author_id=video.creator_id,
        region=video.region,
        sha=sha,
        analysis=analysis,
        signals=signals,
        extra_signals=extra,
        now=now,
    )


def _term_json(hit: TermHit) -> dict[str, Any]:
    return {
        "list": hit.list_name,
        "term": hit.term,
        "region": hit.region,
        "span": [hit.start, hit.end],
    }


#: A comment without a check younger than this is probably still on its way through the bus.
UNCHECKED_GRACE = dt.timedelta(minutes=10)


def stale_subjects(
    session: Session, checker: Checker, *, limit: int = 1000, now: dt.datetime | None = None
) -> list[tuple[str, str]]:
    """Subjects whose current check was made by other models or another policy version, and
    comments never checked at all (their ``comment.created`` was lost: older than
    :data:`UNCHECKED_GRACE`): the re-check job's work."""
    key = versions_key(checker.versions)
    stale: list[tuple[str, str]] = [
        (subject_type, subject_id)
        for subject_type, subject_id in session.execute(
            select(ModerationCheck.subject_type, ModerationCheck.subject_id)
            .where(
                ModerationCheck.is_current.is_(True),
                # "!=" as two ranges, so the index skips the up-to-date checks.
                or_(ModerationCheck.versions_key < key, ModerationCheck.versions_key > key),
            )
            .order_by(ModerationCheck.created_at)
            .limit(limit)
        )
    ]
    if len(stale) >= limit:
        return stale
    checked = select(ModerationCheck.subject_id).where(ModerationCheck.subject_type == "comment")
    unchecked = session.scalars(
        select(ingest.Comment.id)
        .where(
            ingest.Comment.deleted_at.is_(None),
            ingest.Comment.id.not_in(checked),
            ingest.Comment.created_at < (now or utcnow()) - UNCHECKED_GRACE,
        )
        .order_by(ingest.Comment.created_at)
        .limit(limit - len(stale))
    ).all()
    stale.extend(("comment", comment_id) for comment_id in unchecked)
    return stale


def recheck(session: Session, checker: Checker, subject_type: str, subject_id: str) -> CheckOutcome:
    """Re-run the checks of one subject with the current models and policy."""
    if subject_type == "comment":
        return check_comment(session, checker, subject_id, force=True)
    if subject_type == "video":
        return check_video(session, checker, subject_id, force=True)
    raise ValueError(f"unknown subject type {subject_type!r}; known: comment, video")
