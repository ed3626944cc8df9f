"""Reading and writing the visibility table: may a viewer in a country see a subject?"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.db import utcnow

from .models import EVERYWHERE, Decision, SubjectVisibility, Visibility

# Higher is more restrictive; the most restrictive applicable row wins.
_SEVERITY = {
    Visibility.VISIBLE: 0,
    Visibility.LIMITED: 1,
    Visibility.AGE_RESTRICTED: 2,
    Visibility.BLOCKED: 3,
    Visibility.HELD: 4,
    Visibility.REMOVED: 5,
}


def visibility_of(
    db: Session, *, subject_type: str, subject_id: str, country: str | None
) -> tuple[Visibility, str | None]:
    """The visibility of a subject for a viewer in ``country`` (None: unknown country, global rows
    only), with the reason of the row that decided it."""
    countries = [EVERYWHERE] if not country else [EVERYWHERE, country.upper()]
    rows = db.scalars(
        select(SubjectVisibility).where(
            SubjectVisibility.subject_type == subject_type,
            SubjectVisibility.subject_id == subject_id,
            SubjectVisibility.country.in_(countries),
        )
    ).all()
    if not rows:
        return Visibility.VISIBLE, None
    worst = max(rows, key=lambda row: _SEVERITY[Visibility(row.visibility)])
    return Visibility(worst.visibility), worst.reason


def set_visibility(
    db: Session,
    *,
    subject_type: str,
    subject_id: str,
    visibility: Visibility,
    country: str = EVERYWHERE,
    reason: str | None = None,
    decision_id: str | None = None,
) -> SubjectVisibility:
    """Record the visibility of a subject in one country (or everywhere); replaces the old row."""
    key = (subject_type, subject_id, country.upper() if country != EVERYWHERE else EVERYWHERE)
    row = db.get(SubjectVisibility, key)
    if row is None:
        row = SubjectVisibility(subject_type=key[0], subject_id=key[1], country=key[2])
        db.add(row)
    row.visibility = visibility
    row.reason = reason
    row.decision_id = decision_id
    row.updated_at = utcnow()
    db.flush()
    return row


# --- derived from the decision log ------------------------------------------------------------
#
# The visibility of a subject is a fold over its decisions, oldest first, in three layers:
#
# - holds: ``hold`` in its regions, waiting for a human. Any later decision other than another
#   hold or an ``escalate`` ends every hold: the review is done.
# - verdicts: ``remove``, ``age_restrict``, ``limit_distribution`` in their regions; the latest
#   verdict for a region replaces the one before.
# - legal blocks: ``block`` in its countries. Blocks are per-country law, not a verdict on the
#   content, so only an ``approve`` naming that country lifts one.
#
# ``approve`` everywhere (``*``) clears every hold and verdict; ``approve`` in named countries
# clears holds, verdicts and blocks of those countries (a global verdict stays). ``escalate``
# changes nothing. A region's row is the most restrictive of its layers.

_VERDICTS = {
    "remove": Visibility.REMOVED,
    "age_restrict": Visibility.AGE_RESTRICTED,
    "limit_distribution": Visibility.LIMITED,
}


@dataclass(frozen=True)
class DerivedVisibility:
    """One region's visibility and the decision that set it."""

    visibility: Visibility
    decision_id: str
    reason: str


def derive_visibility(decisions: Iterable[Decision]) -> dict[str, DerivedVisibility]:
    """Region (``*`` or a country) -> visibility, from a subject's decisions in chain order.
    Regions absent from the answer are visible."""
    holds: dict[str, Decision] = {}
    verdicts: dict[str, tuple[Visibility, Decision]] = {}
    blocks: dict[str, Decision] = {}
    for decision in decisions:
        action, regions = decision.action, list(decision.regions or [EVERYWHERE])
        if action == "escalate":
            continue
        if action == "hold":
            holds.update(dict.fromkeys(regions, decision))
            continue
        holds.clear()
        if action == "approve":
            if EVERYWHERE in regions:
                verdicts.clear()
            for region in regions:
                verdicts.pop(region, None)
                blocks.pop(region, None)
        elif action == "block":
            blocks.update(dict.fromkeys(regions, decision))
        elif action in _VERDICTS:
            verdicts.update(dict.fromkeys(regions, (_VERDICTS[action], decision)))
    derived: dict[str, DerivedVisibility] = {}
    layers: list[tuple[str, Visibility, Decision]] = [
        *((region, Visibility.HELD, d) for region, d in holds.items()),
        *((region, visibility, d) for region, (visibility, d) in verdicts.items()),
        *((region, Visibility.BLOCKED, d) for region, d in blocks.items()),
    ]
    for region, visibility, decision in layers:
        current = derived.get(region)
        if current is None or _SEVERITY[visibility] > _SEVERITY[current.visibility]:
            derived[region] = DerivedVisibility(
                visibility, decision.id, f"{decision.action}: {decision.reason_code}"
            )
    return derived


def rebuild_visibility(db: Session, *, subject_type: str, subject_id: str) -> dict[str, Visibility]:
    """Rewrite a subject's rows of the visibility table from its decisions (what the decision
    log says, replacing whatever the table held) and return region -> visibility."""
    decisions = db.scalars(
        select(Decision)
        .where(Decision.subject_type == subject_type, Decision.subject_id == subject_id)
        .order_by(Decision.seq)
    ).all()
    derived = derive_visibility(decisions)
    db.execute(
        delete(SubjectVisibility).where(
            SubjectVisibility.subject_type == subject_type,
            SubjectVisibility.subject_id == subject_id,
        )
    )
    now = utcnow()
    db.add_all(
        SubjectVisibility(
            subject_type=subject_type,
            subject_id=subject_id,
            country=region,
            visibility=row.visibility,
            reason=row.reason,
            decision_id=row.decision_id,
            updated_at=now,
        )
        for region, row in derived.items()
    )
    db.flush()
    return {region: row.visibility for region, row in derived.items()}


def visibility_rows(db: Session, *, subject_type: str, subject_id: str) -> list[SubjectVisibility]:
    """A subject's rows of the visibility table (no row: visible), ``*`` first."""
    rows = db.scalars(
        select(SubjectVisibility).where(
            SubjectVisibility.subject_type == subject_type,
            SubjectVisibility.subject_id == subject_id,
        )
    ).all()
    return sorted(rows, key=lambda row: (row.country != EVERYWHERE, row.country))
