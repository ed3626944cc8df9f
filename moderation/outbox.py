"""Delivery of ``moderation.decided``: a transactional outbox.

Every decision writes its event into ``decision_outbox`` in its own transaction
(``decisions.apply_decision``). After the commit, whoever made the decision (the pipeline, the
API, the review console) sends it with :func:`publish`, which deletes the outbox row once the bus
has the event. If the send fails (the bus is down, the process dies between commit and send) the
row stays, and the worker's relay (:func:`resend`, on the moderation consumer's tick) sends it
later, in chain order. Delivery is therefore at least once, like the bus itself: consumers
deduplicate by ``decision_id``.

The relay leaves rows younger than :data:`RESEND_AFTER` alone, so it does not race the sender
that is about to confirm them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update

from core.bus import Bus
from core.db import Database, utcnow

from . import metrics
from .decisions import DECIDED_TOPIC
from .models import DecisionOutbox

log = logging.getLogger(__name__)

#: How old an unsent event must be before the relay sends it (its sender may still be at it).
RESEND_AFTER = dt.timedelta(seconds=30)

#: The most events one relay pass sends.
RESEND_BATCH = 500


def mark_sent(db: Database, decision_ids: Sequence[str]) -> None:
    """Delete the outbox rows of events the bus has confirmed."""
    if decision_ids:
        with db.session() as session:
            session.execute(
                delete(DecisionOutbox).where(DecisionOutbox.decision_id.in_(list(decision_ids)))
            )


def note_failure(db: Database, decision_ids: Sequence[str], error: str) -> None:
    """Count a failed send on the outbox rows (the relay tries again)."""
    if decision_ids:
        with db.session() as session:
            session.execute(
                update(DecisionOutbox)
                .where(DecisionOutbox.decision_id.in_(list(decision_ids)))
                .values(attempts=DecisionOutbox.attempts + 1, last_error=error[:1000])
            )


def unsent(
    db: Database,
    *,
    older_than: dt.timedelta = RESEND_AFTER,
    limit: int = RESEND_BATCH,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Events still in the outbox that were written at least ``older_than`` ago, in chain order."""
    cutoff = (now or utcnow()) - older_than
    with db.session() as session:
        return list(
            session.scalars(
                select(DecisionOutbox.payload)
                .where(DecisionOutbox.created_at <= cutoff)
                .order_by(DecisionOutbox.seq)
                .limit(limit)
            )
        )


def backlog(db: Database) -> int:
    """How many events are waiting in the outbox, whatever their age."""
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(DecisionOutbox)) or 0)


async def _send(bus: Bus, db: Database, events: Sequence[dict[str, Any]]) -> list[str]:
    """Send ``events`` in order; stop at the first failure. Returns the ids not sent."""
    sent: list[str] = []
    for index, event in enumerate(events):
        try:
            await bus.publish(DECIDED_TOPIC, event, key=str(event["subject_id"]))
        except Exception as exc:  # any bus failure: the rest stay in the outbox
            left = [str(e["decision_id"]) for e in events[index:]]
            log.warning(
                "%s: %d decision event(s) not sent, left in the outbox for the worker to "
                "resend (%s: %s)",
                DECIDED_TOPIC,
                len(left),
                type(exc).__name__,
                exc,
                exc_info=True,
            )
            await asyncio.to_thread(mark_sent, db, sent)
            await asyncio.to_thread(note_failure, db, left, f"{type(exc).__name__}: {exc}")
            metrics.DECISION_EVENTS_TOTAL.labels("failed").inc(len(left))
            return left
        sent.append(str(event["decision_id"]))
    await asyncio.to_thread(mark_sent, db, sent)
    return []


async def publish(bus: Bus, db: Database, events: Sequence[dict[str, Any]]) -> list[str]:
    """Send the events of just-committed decisions; returns the ids that could not be sent
    (never raises for a bus failure: those events stay in the outbox and the worker resends)."""
    left = await _send(bus, db, events)
    metrics.DECISION_EVENTS_TOTAL.labels("sent").inc(len(events) - len(left))
    return left


async def resend(
    bus: Bus, db: Database, *, older_than: dt.timedelta = RESEND_AFTER, limit: int = RESEND_BATCH
) -> int:
    """The relay: send what is still in the outbox after ``older_than``; returns how many went."""
    events = await asyncio.to_thread(unsent, db, older_than=older_than, limit=limit)
    left = await _send(bus, db, events) if events else []
    resent = len(events) - len(left)
    if resent:
        metrics.DECISION_EVENTS_TOTAL.labels("resent").inc(resent)
        log.info("%s: resent %d decision event(s) from the outbox", DECIDED_TOPIC, resent)
    metrics.DECISION_EVENTS_UNSENT.set(await asyncio.to_thread(backlog, db))
    return resent
