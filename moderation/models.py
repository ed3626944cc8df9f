"""Tables of the moderation room. So far: the visibility table that playback, search and the feed
read before serving anything."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, utcnow

#: The ``country`` of a row that applies everywhere.
EVERYWHERE = "*"


class Visibility(StrEnum):
    """What a viewer in one country may see of a subject. Most restrictive wins."""

    VISIBLE = "visible"
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
