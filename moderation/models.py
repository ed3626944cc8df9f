"""Tables of the moderation room: the visibility table that playback, search and the feed read;
the checks the pipeline ran and the rules they hit; hash banks; reports, cases, decisions (a hash
chain), strikes and appeals."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, new_id, utcnow

#: The ``country`` of a row that applies everywhere.
EVERYWHERE = "*"


class Visibility(StrEnum):
    """What a viewer in one country may see of a subject. Most restrictive wins."""

    VISIBLE = "visible"
    LIMITED = "limited"  # shown when opened directly, left out of recommendations and search
    AGE_RESTRICTED = "age_restricted"
    BLOCKED = "blocked"  # a legal block in that country: HTTP 451
    HELD = "held"  # waiting for human review
    REMOVED = "removed"


class SubjectVisibility(Base):
    """(subject, country) -> visibility. No row means visible."""

    __tablename__ = "subject_visibility"

    subject_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    visibility: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    decision_id: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# --- the pipeline's record -------------------------------------------------------------------


def versions_key(model_versions: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a check's ``model_versions``: one indexed value the
    re-check job compares in SQL instead of reading every current check's JSON."""
    canonical = json.dumps(dict(model_versions), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _versions_key_default(context: DefaultExecutionContext) -> str:
    parameters: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    return versions_key(parameters["model_versions"] or {})


class ModerationCheck(Base):
    """One automatic check of one version of a subject: every signal, score and rule hit, with the
    model and policy versions that produced them (the re-check job compares those)."""

    __tablename__ = "moderation_checks"
    __table_args__ = (
        Index("ix_moderation_checks_subject", "subject_type", "subject_id"),
        # Current checks by versions: the re-check job's "made by other versions" is two range
        # scans either side of the current key, which skip the (large) up-to-date block.
        Index("ix_moderation_checks_current_versions", "is_current", "versions_key"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(32))
    content_sha256: Mapped[str] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(2))
    language: Mapped[str | None] = mapped_column(String(8))
    language_confidence: Mapped[float | None] = mapped_column(Float)
    normalized_text: Mapped[str | None] = mapped_column(Text)
    # {"target": "en", "text": ... | None, "model": ..., "error": ... | None}
    translation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # attribute -> score
    model_versions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # role -> name@ver
    versions_key: Mapped[str] = mapped_column(String(64), default=_versions_key_default)
    signals: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # everything the policy saw
    policy_version: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))  # the live action taken, e.g. publish, hold
    decision_id: Mapped[str | None] = mapped_column(String(32))
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class RuleHit(Base):
    """A rule whose condition held in a check: live hits were acted on, shadow hits recorded."""

    __tablename__ = "rule_hits"
    __table_args__ = (Index("ix_rule_hits_rule_created", "rule_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    check_id: Mapped[str] = mapped_column(
        ForeignKey("moderation_checks.id", ondelete="CASCADE"), index=True
    )
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(32))
    rule_id: Mapped[str] = mapped_column(String(128))
    policy_version: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(8))  # live | shadow
    action: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[int | None] = mapped_column(Integer)
    countries: Mapped[list[str]] = mapped_column(JSON, default=list)  # [] or ["*"]: everywhere
    reason_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- perceptual-hash banks -------------------------------------------------------------------


class HashBank(Base):
    """A named set of media hashes. A negative bank suppresses matches (known-benign media)."""

    __tablename__ = "hash_banks"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    negative: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped by every change to the bank; with the entries' own, the matcher's cache key.
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class HashBankEntry(Base):
    """One image (PDQ) or video (vPDQ: its frame hashes) in a bank."""

    __tablename__ = "hash_bank_entries"
    __table_args__ = (UniqueConstraint("bank_id", "digest"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    bank_id: Mapped[str] = mapped_column(
        ForeignKey("hash_banks.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))  # pdq | vpdq
    pdq: Mapped[str | None] = mapped_column(String(64))  # one hash (kind pdq)
    frames: Mapped[str | None] = mapped_column(Text)  # vPDQ text form (kind vpdq)
    digest: Mapped[str] = mapped_column(String(64))  # sha256 of kind and hash(es): one per bank
    label: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str | None] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# --- reports, cases, decisions, strikes, appeals ---------------------------------------------


class Report(Base):
    """A user's report of a subject, with a reason from the taxonomy."""

    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_subject_created", "subject_type", "subject_id", "created_at"),
        # One report per reporter, subject and reason: reporting again changes nothing.
        UniqueConstraint("reporter_id", "subject_type", "subject_id", "reason"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    reporter_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(32), index=True)
    details: Mapped[str] = mapped_column(Text, default="")
    region: Mapped[str | None] = mapped_column(String(2))
    case_id: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Case(Base):
    """Work for a human: a subject in a queue, with a priority and a deadline (SLA)."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_queue_status_priority", "queue", "status", "priority", "due_at"),
        Index("ix_cases_subject", "subject_type", "subject_id"),
        # At most one open case per subject, queue and kind, even with concurrent openers.
        Index(
            "uq_cases_open_subject_queue_kind",
            "subject_type",
            "subject_id",
            "queue",
            "kind",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16), default="review")  # review | appeal
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=50)  # higher first
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|decided|escalated
    reason: Mapped[str] = mapped_column(Text, default="")
    region: Mapped[str | None] = mapped_column(String(2))
    language: Mapped[str | None] = mapped_column(String(8))
    review_language: Mapped[str | None] = mapped_column(String(8))
    check_id: Mapped[str | None] = mapped_column(String(32))
    rule_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    assigned_to: Mapped[str | None] = mapped_column(String(32))
    # A claim keeps other moderators off the case until it lapses.
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    escalated_from: Mapped[str | None] = mapped_column(String(32))  # the case this one escalates
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_id: Mapped[str | None] = mapped_column(String(32))


class Decision(Base):
    """An append-only moderation decision. ``hash`` covers the row's content and the previous
    row's hash, so editing or deleting any decision breaks the chain from there on."""

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_subject", "subject_type", "subject_id"),)

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)  # ["*"] means everywhere
    reason_code: Mapped[str] = mapped_column(String(64))
    rule_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    model_versions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor: Mapped[str] = mapped_column(String(64))  # "system" or the moderator's user id
    case_id: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class DecisionOutbox(Base):
    """A committed decision whose ``moderation.decided`` event the bus has not confirmed yet.

    Written in the decision's own transaction, with the event as it will be sent; deleted once
    the bus has it. The worker resends what is left (``moderation.outbox``), so a bus outage
    between the commit and the publish delays the event instead of losing it."""

    __tablename__ = "decision_outbox"

    decision_id: Mapped[str] = mapped_column(
        ForeignKey("decisions.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed sends so far
    last_error: Mapped[str | None] = mapped_column(Text)


class DecisionChainHead(Base):
    """The end of the decision chain (one row, id 1): the last seq and its hash. Appending locks
    this row, which serializes writers on every backend; verification compares it with the last
    decision, which catches rows cut off the end of the chain."""

    __tablename__ = "decision_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Strike(Base):
    """A strike against a user for a removal; counts toward thresholds until it expires."""

    __tablename__ = "strikes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    decision_id: Mapped[str] = mapped_column(String(32), unique=True)
    reason_code: Mapped[str] = mapped_column(String(64))
    severity: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Appeal(Base):
    """A user's appeal against a decision; a senior moderator upholds or overturns it."""

    __tablename__ = "appeals"
    __table_args__ = (UniqueConstraint("decision_id", "appellant_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    decision_id: Mapped[str] = mapped_column(String(32), index=True)
    appellant_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|upheld|overturned
    case_id: Mapped[str | None] = mapped_column(String(32))
    resolution_decision_id: Mapped[str | None] = mapped_column(String(32))
    resolved_by: Mapped[str | None] = mapped_column(String(32))
    resolution_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
