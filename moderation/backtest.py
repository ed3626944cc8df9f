"""Backtesting a draft policy: what it would have done to stored content, and how that agrees
with what moderators decided.

The draft runs over the *current* check of every subject (``moderation_checks.is_current``): its
``signals`` JSON is exactly what the policy saw then, so no model runs again and a backtest over
a month of content takes seconds. Rules in ``off`` mode are skipped; ``live`` and ``shadow``
rules both count as acting (a draft is not live by definition).

Labels come from people, never from automation: for each subject, the latest decision whose actor
is not ``system`` and whose action says whether the content violates:

* violating (positive): ``remove``, ``age_restrict``, ``block``;
* fine (negative): ``approve`` (or ``publish``);
* anything else (``hold``, ``escalate``, ``limit_distribution``) labels nothing, and an earlier
  labelling decision of the same subject stands.

A subject is *flagged* when any of the draft's rules with an action other than ``publish`` held.
Against the labelled subjects: precision = flagged and violating / flagged, recall = flagged and
violating / violating, F1 their harmonic mean, agreement = (flagged and violating + not flagged
and fine) / labelled. Flagged subjects nobody labelled are counted apart (``unlabelled_hits``):
they are the volume a new rule would add to the queues.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from core.db import utcnow

from .decisions import SYSTEM_ACTOR
from .models import Decision, ModerationCheck
from .policy import SEVERITY, Policy, Rule, Signals

#: Human decisions that label a subject as violating, and as fine.
VIOLATING_ACTIONS: frozenset[str] = frozenset({"remove", "age_restrict", "block"})
FINE_ACTIONS: frozenset[str] = frozenset({"approve", "publish"})
_BATCH = 1000


@dataclass(frozen=True)
class Confusion:
    """Flagged or not by the draft, against violating or fine by a person."""

    true_positives: int = 0  # flagged, violating
    false_positives: int = 0  # flagged, fine
    false_negatives: int = 0  # not flagged, violating
    true_negatives: int = 0  # not flagged, fine

    @property
    def labelled(self) -> int:
        return (
            self.true_positives + self.false_positives + self.false_negatives + self.true_negatives
        )

    @property
    def precision(self) -> float | None:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        violating = self.true_positives + self.false_negatives
        return self.true_positives / violating if violating else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None or p + r == 0:
            return None
        return 2 * p * r / (p + r)

    @property
    def agreement(self) -> float | None:
        n = self.labelled
        return (self.true_positives + self.true_negatives) / n if n else None

    def to_json(self) -> dict[str, Any]:
        return {
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
            "true_negatives": self.true_negatives,
            "labelled": self.labelled,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "agreement": self.agreement,
        }


@dataclass
class _Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, flagged: bool, label: bool | None) -> None:
        if label is None:
            return
        if flagged and label:
            self.tp += 1
        elif flagged:
            self.fp += 1
        elif label:
            self.fn += 1
        else:
            self.tn += 1

    def freeze(self) -> Confusion:
        return Confusion(self.tp, self.fp, self.fn, self.tn)


@dataclass(frozen=True)
class RuleFigures:
    """One rule's hits and how they agree with people (recall against all violating subjects)."""

    rule_id: str
    mode: str
    action: str
    hits: int
    unlabelled_hits: int
    confusion: Confusion

    def to_json(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "mode": self.mode,
            "action": self.action,
            "hits": self.hits,
            "unlabelled_hits": self.unlabelled_hits,
            **self.confusion.to_json(),
        }


@dataclass(frozen=True)
class BacktestItem:
    """One subject in the report's samples."""

    subject_type: str
    subject_id: str
    region: str | None
    language: str
    checked_at: dt.datetime
    outcome: str  # what the draft would have done
    rule_ids: tuple[str, ...]
    scores: Mapping[str, float]  # the highest few
    human: str | None  # the labelling human decision's action, if any

    def to_json(self) -> dict[str, Any]:
        return {
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "region": self.region,
            "language": self.language,
            "checked_at": self.checked_at.isoformat(),
            "outcome": self.outcome,
            "rule_ids": list(self.rule_ids),
            "scores": dict(self.scores),
            "human": self.human,
        }


@dataclass(frozen=True)
class BacktestReport:
    """What a draft would have done, and how it agrees with human decisions."""

    policy_version: str
    rule_ids: tuple[str, ...]
    since_days: float | None
    checks: int  # current checks scanned
    flagged: int  # subjects the draft would have acted on
    actions: Mapping[str, int]  # outcome -> subjects (the most severe action per subject)
    labelled: int  # subjects with a labelling human decision
    unlabelled_hits: int  # flagged subjects no person labelled
    confusion: Confusion
    rules: tuple[RuleFigures, ...]
    samples: tuple[BacktestItem, ...] = field(default=())  # flagged subjects, newest first
    misses: tuple[BacktestItem, ...] = field(default=())  # violating subjects not flagged

    def to_json(self) -> dict[str, Any]:
        return {
            "policy_version": self.policy_version,
            "rule_ids": list(self.rule_ids),
            "since_days": self.since_days,
            "checks": self.checks,
            "flagged": self.flagged,
            "actions": dict(self.actions),
            "labelled": self.labelled,
            "unlabelled_hits": self.unlabelled_hits,
            **{k: v for k, v in self.confusion.to_json().items() if k != "labelled"},
            "confusion": {
                "flagged_violating": self.confusion.true_positives,
                "flagged_fine": self.confusion.false_positives,
                "not_flagged_violating": self.confusion.false_negatives,
                "not_flagged_fine": self.confusion.true_negatives,
            },
            "rules": [r.to_json() for r in self.rules],
            "samples": [s.to_json() for s in self.samples],
            "misses": [s.to_json() for s in self.misses],
        }


def human_labels(session: Session) -> dict[tuple[str, str], tuple[bool, str]]:
    """``(subject_type, subject_id) -> (violating, action)`` from the latest labelling human
    decision of each subject."""
    labels: dict[tuple[str, str], tuple[bool, str]] = {}
    rows = session.execute(
        select(Decision.subject_type, Decision.subject_id, Decision.action)
        .where(
            Decision.actor != SYSTEM_ACTOR,
            Decision.action.in_(sorted(VIOLATING_ACTIONS | FINE_ACTIONS)),
        )
        .order_by(Decision.seq)
        .execution_options(yield_per=_BATCH)
    )
    for subject_type, subject_id, action in rows:
        labels[(subject_type, subject_id)] = (action in VIOLATING_ACTIONS, action)
    return labels


def _current_checks(
    session: Session, since: dt.datetime | None
) -> Iterator[tuple[str, str, dt.datetime, dict[str, Any]]]:
    # The signals come as text and are decoded with orjson: decoding is most of a backtest's time.
    query = select(
        ModerationCheck.subject_type,
        ModerationCheck.subject_id,
        ModerationCheck.created_at,
        cast(ModerationCheck.signals, Text),
    ).where(ModerationCheck.is_current.is_(True))
    if since is not None:
        query = query.where(ModerationCheck.created_at >= since)
    query = query.order_by(ModerationCheck.created_at.desc(), ModerationCheck.id)
    for row in session.execute(query.execution_options(yield_per=_BATCH)):
        yield row[0], row[1], row[2], orjson.loads(row[3]) if row[3] else {}


def _top_scores(scores: Mapping[str, float], n: int = 3) -> dict[str, float]:
    best = sorted(scores.items(), key=lambda item: -item[1])[:n]
    return {name: round(value, 3) for name, value in best}


def backtest(
    policy: Policy,
    session: Session,
    *,
    since_days: float | None = None,
    now: dt.datetime | None = None,
    sample_size: int = 10,
) -> BacktestReport:
    """Run ``policy`` (a draft from :func:`moderation.policy.load_rules`, or the whole policy)
    over the current checks, newer than ``since_days`` when given, and compare with people."""
    since = None
    if since_days is not None:
        since = (now or utcnow()) - dt.timedelta(days=since_days)
    labels = human_labels(session)
    rules: dict[str, Rule] = {}
    for rule in policy.all_rules():  # a country's variant of a rule counts under the rule's id
        if rule.mode != "off":
            rules.setdefault(rule.id, rule)
    overall = _Tally()
    per_rule: dict[str, _Tally] = {rule_id: _Tally() for rule_id in rules}
    rule_hits: Counter[str] = Counter()
    rule_unlabelled: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    checks = flagged = unlabelled_hits = 0
    samples: list[BacktestItem] = []
    misses: list[BacktestItem] = []
    for subject_type, subject_id, checked_at, data in _current_checks(session, since):
        checks += 1
        signals = Signals.from_json(data)
        evaluation = policy.evaluate(signals)
        acting = [hit for hit in evaluation.hits if hit.action != "publish"]
        hit_ids = {hit.rule_id for hit in acting}
        label_row = labels.get((subject_type, subject_id))
        label = label_row[0] if label_row else None
        is_flagged = bool(acting)
        if label is not None:
            overall.add(is_flagged, label)
            for rule_id, tally in per_rule.items():
                tally.add(rule_id in hit_ids, label)
        for hit in acting:
            rule_hits[hit.rule_id] += 1
            if label is None:
                rule_unlabelled[hit.rule_id] += 1
        outcome = "publish"
        if is_flagged:
            flagged += 1
            outcome = max(acting, key=lambda hit: SEVERITY[hit.action]).action
            if label is None:
                unlabelled_hits += 1
        actions[outcome] += 1
        wanted = samples if is_flagged else misses if label else None
        if wanted is not None and len(wanted) < sample_size:
            wanted.append(
                BacktestItem(
                    subject_type=subject_type,
                    subject_id=subject_id,
                    region=signals.region,
                    language=signals.language,
                    checked_at=checked_at,
                    outcome=outcome,
                    rule_ids=tuple(hit.rule_id for hit in acting),
                    scores=_top_scores(signals.scores),
                    human=label_row[1] if label_row else None,
                )
            )
    figures = tuple(
        RuleFigures(
            rule_id=rule_id,
            mode=rule.mode,
            action=rule.then.action,
            hits=rule_hits[rule_id],
            unlabelled_hits=rule_unlabelled[rule_id],
            confusion=per_rule[rule_id].freeze(),
        )
        for rule_id, rule in rules.items()
    )
    confusion = overall.freeze()
    return BacktestReport(
        policy_version=policy.version,
        rule_ids=tuple(rules),
        since_days=since_days,
        checks=checks,
        flagged=flagged,
        actions=dict(sorted(actions.items(), key=lambda item: -SEVERITY[item[0]])),
        labelled=confusion.labelled,
        unlabelled_hits=unlabelled_hits,
        confusion=confusion,
        rules=figures,
        samples=tuple(samples),
        misses=tuple(misses),
    )
