"""Reading and writing the visibility table: may a viewer in a country see a subject?"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow

from .models import EVERYWHERE, SubjectVisibility, Visibility

# Higher is more restrictive; the most restrictive applicable row wins.
_SEVERITY = {
    Visibility.VISIBLE: 0,
    Visibility.AGE_RESTRICTED: 1,
    Visibility.BLOCKED: 2,
    Visibility.HELD: 3,
    Visibility.REMOVED: 4,
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
