"""The demo data framework: ordered steps that each room contributes, one seeded RNG.

A step gets a DemoContext and returns a one-line summary. The same seed and size give the same
data set (ids, names, edges); timestamps are anchored at midnight UTC of the run's day.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from core.settings import Settings

Advance = Callable[[int], None]


@dataclass
class DemoContext:
    settings: Settings
    session: Session
    rng: random.Random
    users: int
    anchor: dt.datetime
    #: What earlier steps made, for later ones (e.g. "creator_ids", "viewer_ids").
    made: dict[str, Any] = field(default_factory=dict)
    advance: Advance = lambda _n: None

    def new_id(self) -> str:
        """A reproducible id (the RNG's next 128 bits as a UUID4 hex)."""
        return uuid.UUID(int=self.rng.getrandbits(128), version=4).hex


@dataclass(frozen=True)
class DemoStep:
    name: str
    description: str
    total: Callable[[DemoContext], int]
    run: Callable[[DemoContext], str]


def make_context(
    settings: Settings, session: Session, *, seed: int, users: int, today: dt.date | None = None
) -> DemoContext:
    day = today or dt.datetime.now(dt.UTC).date()
    anchor = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return DemoContext(
        settings=settings, session=session, rng=random.Random(seed), users=users, anchor=anchor
    )
