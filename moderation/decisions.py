"""Moderation decisions: an append-only, tamper-evident hash chain, and what each decision does.

A decision is ``(subject, action, regions, reason_code, rule_ids, model_versions, actor, at)``
(DESIGN.md section 5). Recording one (:func:`record_decision`):

1. appends it to the chain: ``seq`` is the previous ``seq`` + 1 and ``hash`` covers the row's
   content and ``prev_hash``, the previous row's hash (the first row's is 64 zeros);
2. closes its case (``decided``, or ``escalated`` for ``escalate``; a ``hold`` leaves it open);
3. gives the author a strike for a removal, or revokes the strikes of earlier removals for an
   ``approve`` everywhere (``moderation.strikes``);
4. rewrites the subject's rows of the visibility table from its decisions
   (``moderation.visibility.rebuild_visibility``).

The event (:func:`decision_event`) is written to the outbox in the same transaction; the caller
commits, then sends it with ``moderation.outbox.publish`` (the worker resends what is left).

Canonical form (what ``hash`` is computed over), fixed so any tool can re-verify the chain::

    sha256( utf8( json.dumps(content, sort_keys=True, separators=(",", ":"),
                             ensure_ascii=False, allow_nan=False) ) ).hexdigest()

where ``content`` is the object with exactly these keys: ``seq`` (integer), ``id``,
``subject_type``, ``subject_id``, ``action``, ``regions`` (list of ``"*"`` or ISO 3166-1 alpha-2
codes, sorted), ``reason_code``, ``rule_ids`` (list, as given), ``model_versions`` (object),
``actor``, ``case_id`` (string or null), ``note``, ``at`` (UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``,
always six digits of microseconds) and ``prev_hash`` (64 lowercase hex digits).

Serialized appends: the chain head is one row (``decision_chain_head``) that every append locks
first: ``INSERT ... ON CONFLICT DO NOTHING`` (which on SQLite takes the database's write lock, as
``BEGIN IMMEDIATE`` would) then ``SELECT ... FOR UPDATE`` (a row lock on PostgreSQL). Two writers
therefore never read the same head, on either backend. The head also records the last ``seq``
and hash, so verification notices rows cut off the end. What it cannot notice is a rewrite of
the whole chain and the head together by someone with write access to the database; keep the
head hash that ``vigil decisions verify`` prints somewhere else to catch that.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import RowMapping, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

import ingest
from core.db import new_id, utcnow
from core.errors import ConflictError, InvalidInputError, NotFoundError
from core.settings import ModerationSettings

from . import strikes
from .models import EVERYWHERE, Case, Decision, DecisionChainHead, DecisionOutbox, Visibility
from .visibility import rebuild_visibility

#: The actor of decisions the policy engine made.
SYSTEM_ACTOR = "system"

#: Where every committed decision is announced (:func:`decision_event`): the visibility readers,
#: search and the feed consume it.
DECIDED_TOPIC = "moderation.decided"

#: approve (publish), remove, age_restrict, block (countries), limit_distribution, hold, escalate.
ACTIONS: tuple[str, ...] = (
    "approve",
    "remove",
    "age_restrict",
    "block",
    "limit_distribution",
    "hold",
    "escalate",
)
#: Actions the author of the subject may appeal.
APPEALABLE_ACTIONS = frozenset({"remove", "age_restrict", "block", "limit_distribution"})
#: What moderation decides about.
SUBJECT_TYPES: tuple[str, ...] = ("video", "comment")

GENESIS_HASH = "0" * 64
_HEAD_ID = 1
_COUNTRY = re.compile(r"^[A-Z]{2}$")

__all__ = [
    "ACTIONS",
    "APPEALABLE_ACTIONS",
    "EVERYWHERE",
    "GENESIS_HASH",
    "SUBJECT_TYPES",
    "SYSTEM_ACTOR",
    "ChainReport",
    "DecisionOutcome",
    "apply_decision",
    "canonical_content",
    "chain_hash",
    "decision_event",
    "get_decision_or_raise",
    "list_decisions",
    "record_decision",
    "require_subject",
    "subject_author",
    "verify_chain",
]


# --- subjects -----------------------------------------------------------------------------------


def check_subject_type(subject_type: str) -> str:
    if subject_type not in SUBJECT_TYPES:
        raise InvalidInputError(
            f"subject_type must be one of {', '.join(SUBJECT_TYPES)}, not {subject_type!r}",
            details={"field": "subject_type", "allowed": list(SUBJECT_TYPES)},
        )
    return subject_type


def get_subject(session: Session, subject_type: str, subject_id: str) -> Any | None:
    """The video or comment row a subject names, or None."""
    table = ingest.Video if check_subject_type(subject_type) == "video" else ingest.Comment
    return session.get(table, subject_id)


def require_subject(session: Session, subject_type: str, subject_id: str) -> Any:
    """The video or comment, or NotFoundError naming it."""
    row = get_subject(session, subject_type, subject_id)
    if row is None or getattr(row, "deleted_at", None) is not None:
        raise NotFoundError(
            f"no {subject_type} {subject_id!r}",
            details={"subject_type": subject_type, "subject_id": subject_id},
        )
    return row


def subject_author(session: Session, subject_type: str, subject_id: str) -> str | None:
    """The user who posted the subject (a video's creator, a comment's author), or None."""
    row = get_subject(session, subject_type, subject_id)
    if row is None:
        return None
    return str(row.creator_id if subject_type == "video" else row.author_id)


# --- the chain ----------------------------------------------------------------------------------


def _utc_text(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_content(row: Mapping[str, Any] | RowMapping) -> bytes:
    """The bytes a decision's hash covers (see the module docstring for the exact form)."""
    content = {
        "seq": int(row["seq"]),
        "id": row["id"],
        "subject_type": row["subject_type"],
        "subject_id": row["subject_id"],
        "action": row["action"],
        "regions": list(row["regions"]),
        "reason_code": row["reason_code"],
        "rule_ids": list(row["rule_ids"]),
        "model_versions": dict(row["model_versions"]),
        "actor": row["actor"],
        "case_id": row["case_id"],
        "note": row["note"],
        "at": _utc_text(row["at"]),
        "prev_hash": row["prev_hash"],
    }
    text = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def chain_hash(row: Mapping[str, Any] | RowMapping) -> str:
    """sha256 hex of :func:`canonical_content`."""
    return hashlib.sha256(canonical_content(row)).hexdigest()


def _row_of(decision: Decision) -> dict[str, Any]:
    return {column.key: getattr(decision, column.key) for column in Decision.__table__.columns}


def _lock_chain_head(session: Session) -> DecisionChainHead:
    """The chain head, locked until the transaction ends (see the module docstring)."""
    dialect = session.get_bind().dialect.name
    values = {"id": _HEAD_ID, "seq": 0, "hash": GENESIS_HASH, "updated_at": utcnow()}
    make_insert = pg_insert if dialect == "postgresql" else sqlite_insert
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"decision chain on {dialect}: only sqlite and postgresql")
    session.execute(
        make_insert(DecisionChainHead)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return session.execute(
        select(DecisionChainHead)
        .where(DecisionChainHead.id == _HEAD_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def _json_value(name: str, value: Any) -> Any:
    """``value`` as it will read back from a JSON column (tuples become lists, keys strings), so
    the hash computed now equals the hash recomputed from the stored row."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"{name} must be plain JSON (strings, numbers, lists, objects): {exc}",
            details={"field": name},
        ) from exc


def normalize_regions(action: str, regions: Sequence[str] | str | None) -> list[str]:
    """``["*"]`` or sorted upper-case ISO 3166-1 alpha-2 codes; ``block`` needs countries."""
    if isinstance(regions, str):
        regions = [regions]
    given = [str(region).strip().upper() for region in regions or () if str(region).strip()]
    if action == "block" and (not given or EVERYWHERE in given):
        raise InvalidInputError(
            "a block needs the countries it applies in (ISO 3166-1 alpha-2, e.g. DE); "
            "to take something down everywhere, remove it",
            details={"field": "regions"},
        )
    if not given or EVERYWHERE in given:
        return [EVERYWHERE]
    bad = [region for region in given if not _COUNTRY.match(region)]
    if bad:
        raise InvalidInputError(
            f"regions must be '*' or ISO 3166-1 alpha-2 country codes, not {', '.join(bad)}",
            details={"field": "regions", "invalid": bad},
        )
    return sorted(set(given))


def _text(name: str, value: str, limit: int) -> str:
    value = (value or "").strip()
    if not value or len(value) > limit:
        raise InvalidInputError(
            f"{name} must be 1 to {limit} characters", details={"field": name, "limit": limit}
        )
    return value


@dataclass(frozen=True)
class DecisionOutcome:
    """A recorded decision and what it did."""

    decision: Decision
    visibility: Mapping[str, Visibility]  # region -> visibility after it (absent: visible)
    author: strikes.StrikeStatus | None = None  # for removals: the author's strikes after it
    revoked_strikes: int = 0  # strikes of earlier removals an approve revoked
    closed_case_ids: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())  # e.g. "strike_threshold: ..."

    @property
    def account_restricted(self) -> bool:
        return self.author is not None and self.author.account_restricted


def apply_decision(
    session: Session,
    *,
    subject_type: str,
    subject_id: str,
    action: str,
    regions: Sequence[str] = (EVERYWHERE,),
    reason_code: str,
    rule_ids: Sequence[str] = (),
    model_versions: Mapping[str, Any] | None = None,
    actor: str = SYSTEM_ACTOR,
    case_id: str | None = None,
    note: str = "",
    author_id: str | None = None,
    now: dt.datetime | None = None,
    config: ModerationSettings | None = None,
) -> DecisionOutcome:
    """Record a decision (chain, case, strikes, visibility) and return what it did.

    ``author_id`` defaults to the subject's author. The caller commits, then sends the event with
    ``moderation.outbox.publish`` (it is in the outbox already, so a failed send is retried).
    """
    config = config or ModerationSettings.model_validate({})
    check_subject_type(subject_type)
    if action not in ACTIONS:
        raise InvalidInputError(
            f"action must be one of {', '.join(ACTIONS)}, not {action!r}",
            details={"field": "action", "allowed": list(ACTIONS)},
        )
    region_list = normalize_regions(action, regions)
    reason_code = _text("reason_code", reason_code, 64)
    actor = _text("actor", actor, 64)
    rules = _json_value("rule_ids", [str(rule) for rule in rule_ids])
    versions = _json_value("model_versions", dict(model_versions or {}))
    at = now or utcnow()
    case = _case_for(session, case_id, subject_type, subject_id, action)

    head = _lock_chain_head(session)
    decision = Decision(
        seq=head.seq + 1,
        id=new_id(),
        subject_type=subject_type,
        subject_id=subject_id,
        action=action,
        regions=region_list,
        reason_code=reason_code,
        rule_ids=rules,
        model_versions=versions,
        actor=actor,
        case_id=case_id,
        note=note or "",
        at=at,
        prev_hash=head.hash,
    )
    decision.hash = chain_hash(_row_of(decision))
    session.add(decision)
    head.seq, head.hash, head.updated_at = decision.seq, decision.hash, at
    session.flush()

    closed = _close_cases(session, decision, case)
    author_status = None
    revoked = 0
    everywhere = region_list == [EVERYWHERE]
    if action == "remove":
        author = author_id or subject_author(session, subject_type, subject_id)
        if author is not None:
            strike = strikes.give_strike(
                session,
                user_id=author,
                decision_id=decision.id,
                reason_code=reason_code,
                expiry_days=config.strike_expiry_days,
                now=at,
            )
            author_status = strikes.strike_status(
                session,
                author,
                threshold=config.strike_restrict_threshold,
                strike=strike,
                now=at,
            )
    elif action == "approve" and everywhere:
        earlier_removals = session.scalars(
            select(Decision.id).where(
                Decision.subject_type == subject_type,
                Decision.subject_id == subject_id,
                Decision.action == "remove",
                Decision.seq < decision.seq,
            )
        ).all()
        revoked = strikes.revoke_strikes(session, decision_ids=earlier_removals, now=at)
    visibility = rebuild_visibility(session, subject_type=subject_type, subject_id=subject_id)
    threshold_note = author_status.note if author_status else None
    outcome = DecisionOutcome(
        decision=decision,
        visibility=visibility,
        author=author_status,
        revoked_strikes=revoked,
        closed_case_ids=closed,
        notes=(threshold_note,) if threshold_note else (),
    )
    # The event goes into the outbox in this transaction: it is sent once committed, and resent
    # by the worker if that send fails (moderation.outbox).
    session.add(
        DecisionOutbox(
            decision_id=decision.id,
            seq=decision.seq,
            payload=decision_event(outcome),
            created_at=utcnow(),
            attempts=0,
        )
    )
    session.flush()
    return outcome


def record_decision(
    session: Session,
    *,
    subject_type: str,
    subject_id: str,
    action: str,
    regions: Sequence[str] = (EVERYWHERE,),
    reason_code: str,
    rule_ids: Sequence[str] = (),
    model_versions: Mapping[str, Any] | None = None,
    actor: str = SYSTEM_ACTOR,
    case_id: str | None = None,
    note: str = "",
    author_id: str | None = None,
    now: dt.datetime | None = None,
    config: ModerationSettings | None = None,
) -> Decision:
    """:func:`apply_decision`, returning only the decision."""
    return apply_decision(
        session,
        subject_type=subject_type,
        subject_id=subject_id,
        action=action,
        regions=regions,
        reason_code=reason_code,
        rule_ids=rule_ids,
        model_versions=model_versions,
        actor=actor,
        case_id=case_id,
        note=note,
        author_id=author_id,
        now=now,
        config=config,
    ).decision


def _case_for(
    session: Session, case_id: str | None, subject_type: str, subject_id: str, action: str
) -> Case | None:
    if case_id is None:
        return None
    case = session.get(Case, case_id)
    if case is None:
        raise NotFoundError(f"no case {case_id!r}", details={"case_id": case_id})
    if (case.subject_type, case.subject_id) != (subject_type, subject_id):
        raise InvalidInputError(
            f"case {case_id} is about {case.subject_type} {case.subject_id}, "
            f"not {subject_type} {subject_id}",
            details={"field": "case_id"},
        )
    if case.status != "open" and action != "hold":
        raise ConflictError(
            f"case {case_id} is closed ({case.status}); it takes no more decisions",
            details={"case_id": case_id, "status": case.status},
        )
    return case


def _close_cases(session: Session, decision: Decision, case: Case | None) -> tuple[str, ...]:
    """Close the decision's case (a hold leaves it open: the hold is what waits for it) and,
    for a removal everywhere, every other open review case of the subject: nothing is left to
    review."""
    closed: list[str] = []
    if case is not None and decision.action != "hold":
        case.status = "escalated" if decision.action == "escalate" else "decided"
        case.closed_at = decision.at
        case.decision_id = decision.id
        case.claimed_until = None
        closed.append(case.id)
    if decision.action == "remove" and decision.regions == [EVERYWHERE]:
        others = session.scalars(
            select(Case.id).where(
                Case.subject_type == decision.subject_type,
                Case.subject_id == decision.subject_id,
                Case.status == "open",
                Case.kind == "review",
            )
        ).all()
        if others:
            session.execute(
                update(Case)
                .where(Case.id.in_(others))
                .values(
                    status="decided",
                    closed_at=decision.at,
                    decision_id=decision.id,
                    claimed_until=None,
                )
                .execution_options(synchronize_session="fetch")
            )
            closed.extend(others)
    session.flush()
    return tuple(closed)


# --- reading ------------------------------------------------------------------------------------


def get_decision_or_raise(session: Session, decision_id: str) -> Decision:
    decision = session.scalar(select(Decision).where(Decision.id == decision_id))
    if decision is None:
        raise NotFoundError(f"no decision {decision_id!r}", details={"decision_id": decision_id})
    return decision


def list_decisions(
    session: Session,
    *,
    subject_type: str | None = None,
    subject_id: str | None = None,
    limit: int = 100,
    before_seq: int | None = None,
) -> list[Decision]:
    """Decisions, newest first; of one subject when given."""
    query = select(Decision)
    if subject_type is not None:
        query = query.where(Decision.subject_type == subject_type)
    if subject_id is not None:
        query = query.where(Decision.subject_id == subject_id)
    if before_seq is not None:
        query = query.where(Decision.seq < before_seq)
    return list(session.scalars(query.order_by(Decision.seq.desc()).limit(limit)))


def parse_subject(text: str) -> tuple[str, str]:
    """``video:ID`` or ``comment:ID`` -> (type, id); InvalidInputError otherwise."""
    kind, _, subject_id = text.partition(":")
    if not subject_id or kind not in SUBJECT_TYPES:
        raise InvalidInputError(
            f"subject must be TYPE:ID with TYPE one of {', '.join(SUBJECT_TYPES)}, not {text!r}",
            details={"field": "subject"},
        )
    return kind, subject_id


def decision_event(decision: Decision | DecisionOutcome) -> dict[str, Any]:
    """The ``moderation.decided`` payload: the decision tuple of DESIGN.md section 5 plus its
    place in the chain; from an outcome, also the visibility after it and the author's strikes.
    The moderator's note stays in the database."""
    outcome = decision if isinstance(decision, DecisionOutcome) else None
    row = outcome.decision if outcome is not None else decision
    assert isinstance(row, Decision)
    event: dict[str, Any] = {
        "decision_id": row.id,
        "seq": row.seq,
        "subject_type": row.subject_type,
        "subject_id": row.subject_id,
        "action": row.action,
        "regions": list(row.regions),
        "reason_code": row.reason_code,
        "rule_ids": list(row.rule_ids),
        "model_versions": dict(row.model_versions),
        "actor": row.actor,
        "case_id": row.case_id,
        "at": _utc_text(row.at),
        "hash": row.hash,
    }
    if outcome is not None:
        event["visibility"] = {region: str(v) for region, v in outcome.visibility.items()}
        if outcome.author is not None:
            event["author"] = {
                "user_id": outcome.author.user_id,
                "strike_id": outcome.author.strike.id if outcome.author.strike else None,
                "active_strikes": outcome.author.active,
                "account_restricted": outcome.author.account_restricted,
            }
    return event


# --- verification -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    """The result of walking the chain: ok, or the first place it breaks and how."""

    ok: bool
    checked: int  # rows read
    first_bad_seq: int | None = None
    problem: str | None = None
    head_seq: int | None = None  # what the chain head records
    head_hash: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
        }


def _rows_in_seq_order(session: Session, batch_size: int) -> Iterator[RowMapping]:
    """Every decision row, as stored, in ``seq`` order, a page at a time (keyset pages hold no
    cursor open between them, whatever the backend)."""
    table = Decision.__table__
    after: int | None = None
    while True:
        query = select(table).order_by(table.c.seq).limit(batch_size)
        if after is not None:
            query = query.where(table.c.seq > after)
        page = session.execute(query).mappings().all()
        yield from page
        if len(page) < batch_size:
            return
        after = int(page[-1]["seq"])


def verify_chain(session: Session, *, batch_size: int = 1000) -> ChainReport:
    """Walk every decision in ``seq`` order and check that the chain holds: ``seq`` runs 1, 2,
    3... without gaps (a deleted row), each ``prev_hash`` is the hash of the row before
    (deleted, inserted or reordered rows), each ``hash`` matches its row's content (an edited
    row), and the chain head names the last row (rows cut off the end, or appended around
    :func:`record_decision`)."""
    head = session.execute(
        select(DecisionChainHead.seq, DecisionChainHead.hash).where(
            DecisionChainHead.id == _HEAD_ID
        )
    ).first()
    head_seq, head_hash = (int(head.seq), str(head.hash)) if head else (None, None)

    def report(checked: int, seq: int | None, problem: str | None) -> ChainReport:
        return ChainReport(problem is None, checked, seq, problem, head_seq, head_hash)

    expected_seq, expected_prev, checked = 1, GENESIS_HASH, 0
    for row in _rows_in_seq_order(session, batch_size):
        checked += 1
        seq = int(row["seq"])
        if seq != expected_seq:
            if seq > expected_seq:
                missing = f"{expected_seq}" + (f" to {seq - 1}" if seq - 1 > expected_seq else "")
                return report(checked, expected_seq, f"seq {missing} missing (deleted)")
            return report(checked, seq, f"unexpected seq {seq} (inserted)")
        if row["prev_hash"] != expected_prev:
            return report(
                checked,
                seq,
                f"seq {seq}: prev_hash does not match the hash of seq {seq - 1} "
                "(a row before it was deleted, inserted, reordered or its hash rewritten)",
            )
        try:
            recomputed = chain_hash(row)
        except (TypeError, ValueError) as exc:
            return report(checked, seq, f"seq {seq}: content cannot be hashed ({exc})")
        if recomputed != row["hash"]:
            return report(
                checked, seq, f"seq {seq}: hash does not match the row's content (edited)"
            )
        expected_seq, expected_prev = seq + 1, str(row["hash"])
    last_seq = expected_seq - 1
    if head is None:
        if checked:
            return report(checked, 1, "the chain head is missing (deleted?)")
        return report(0, None, None)
    if head_seq != last_seq or head_hash != expected_prev:
        return report(
            checked,
            min(last_seq, head_seq or 0) + 1 if head_seq != last_seq else last_seq,
            f"the chain ends at seq {last_seq} but its head records seq {head_seq}"
            + (
                " (rows deleted from the end, or added without record_decision)"
                if head_seq != last_seq
                else " with another hash (the last row was replaced)"
            ),
        )
    return report(checked, None, None)
