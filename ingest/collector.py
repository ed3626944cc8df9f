"""The event collector: one batch in, a durable acknowledgement out.

``collect`` reads and validates a batch (``ingest.events``), records rejected events in the
dead-letter table, publishes the accepted ones on ``events.accepted`` and returns only after the
bus has stored them: the acknowledgement an app receives means the events survive the server
being killed right after. The lake sink takes it from there.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from core.db import Database, new_id
from core.runtime import Services

from . import metrics
from .events import RateWatch, Rejection, encode_messages, read_batch, validate_batch
from .lake_sink import EVENTS_TOPIC
from .models import EventRejection


@dataclass
class CollectResult:
    batch_id: str
    received: int
    accepted: int
    duplicates: int
    clamped: int
    bots: int
    rejected: list[Rejection] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "flagged": {"clamped": self.clamped, "bot": self.bots},
            "rejected": [r.to_json() for r in self.rejected],
        }


async def collect(
    services: Services,
    *,
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    user_agent: str | None,
    source: str,
    rates: RateWatch,
) -> CollectResult:
    """Validate, dead-letter, publish and wait for the bus; see the module docstring.

    Raises TooLargeError, UnsupportedMediaError or InvalidInputError when the batch as a whole
    cannot be read, and the bus's errors when it cannot store the accepted events (the app then
    retries, and the sink drops whatever had been stored already).
    """
    limits = services.settings.events
    try:
        items = read_batch(
            body, content_type=content_type, content_encoding=content_encoding, limits=limits
        )
    except Exception:
        metrics.EVENT_BATCHES_TOTAL.labels("refused").inc()
        raise
    received_at = datetime.now(UTC)
    batch = validate_batch(
        items, received_at=received_at, user_agent=user_agent, limits=limits, rates=rates
    )
    batch_id = new_id()
    if batch.rejections:
        await asyncio.to_thread(
            record_rejections,
            services.db,
            batch.rejections,
            batch_id=batch_id,
            source=source,
            received_at=received_at,
        )
    if batch.accepted:
        messages = encode_messages(batch, batch_id=batch_id)
        if len(messages) == 1:
            await services.bus.publish(EVENTS_TOPIC, messages[0], key=batch_id)
        else:
            await services.bus.publish_batch(
                EVENTS_TOPIC, [(message, batch_id) for message in messages]
            )
    metrics.EVENT_BATCHES_TOTAL.labels("accepted").inc()
    metrics.EVENTS_TOTAL.labels("accepted").inc(batch.accepted)
    if batch.duplicates:
        metrics.EVENTS_TOTAL.labels("duplicate").inc(batch.duplicates)
    if batch.rejections:
        metrics.EVENTS_TOTAL.labels("rejected").inc(len(batch.rejections))
        for rejection in batch.rejections:
            metrics.EVENTS_REJECTED_TOTAL.labels(rejection.reason).inc()
    if batch.clamped:
        metrics.EVENTS_FLAGGED_TOTAL.labels("clamped").inc(batch.clamped)
    if batch.bots:
        metrics.EVENTS_FLAGGED_TOTAL.labels("bot").inc(batch.bots)
    return CollectResult(
        batch_id=batch_id,
        received=len(items),
        accepted=batch.accepted,
        duplicates=batch.duplicates,
        clamped=batch.clamped,
        bots=batch.bots,
        rejected=batch.rejections,
    )


def record_rejections(
    db: Database,
    rejections: list[Rejection],
    *,
    batch_id: str,
    source: str,
    received_at: datetime,
) -> None:
    """Write rejected events to the dead-letter table (before the batch is acknowledged)."""
    with db.session() as session:
        session.add_all(
            EventRejection(
                received_at=received_at,
                batch_id=batch_id,
                source=source,
                item_index=r.index,
                event_id=r.event_id,
                reason=r.reason,
                field=r.field,
                message=r.message,
                raw=r.raw,
            )
            for r in rejections
        )
        session.commit()


def list_rejections(
    db: Database, *, reason: str | None = None, batch_id: str | None = None, limit: int = 100
) -> list[EventRejection]:
    """Rejected events, newest first, optionally of one reason or one batch."""
    query = select(EventRejection).order_by(
        EventRejection.received_at.desc(), EventRejection.item_index
    )
    if reason:
        query = query.where(EventRejection.reason == reason)
    if batch_id:
        query = query.where(EventRejection.batch_id == batch_id)
    with db.session() as session:
        rows = list(session.scalars(query.limit(limit)))
        session.expunge_all()
    return rows
