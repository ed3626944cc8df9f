"""The outbox of ``moderation.decided``: every decision's event is written with the decision, sent
after the commit, and resent by the worker when the send failed, in chain order, on the real
embedded bus."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

import moderation
from core.bus import Message
from core.db import Database, upgrade, utcnow
from core.runtime import Services, open_services
from core.settings import Settings
from moderation import decisions, outbox
from moderation.models import DecisionOutbox
from tests.localization.model_cache import fasttext_models_dir
from tests.moderation.test_cases_data import T0, World, build_world


def _decide(world: World, action: str, **kw: Any) -> dict[str, Any]:
    with world.db.session() as session:
        outcome = decisions.apply_decision(
            session,
            subject_type="comment",
            subject_id=world.comment_id,
            action=action,
            reason_code=kw.pop("reason_code", "harassment"),
            actor=world.moderator.id,
            now=T0,
            **kw,
        )
        return decisions.decision_event(outcome)


def _rows(db: Database) -> list[DecisionOutbox]:
    with db.session() as session:
        rows = list(session.scalars(select(DecisionOutbox).order_by(DecisionOutbox.seq)))
        session.expunge_all()
        return rows


def test_every_decision_writes_its_event_to_the_outbox_with_it(database: Database) -> None:
    world = build_world(database)
    removed = _decide(world, "remove")
    restored = _decide(world, "approve", reason_code="no_violation")

    rows = _rows(database)
    assert [r.decision_id for r in rows] == [removed["decision_id"], restored["decision_id"]]
    # The stored event is the one the decider sends: visibility and the author's strikes too.
    assert rows[0].payload == removed
    assert rows[0].payload["visibility"] == {"*": "removed"}
    assert rows[0].payload["author"]["active_strikes"] == 1
    assert (rows[0].attempts, rows[0].last_error) == (0, None)

    # Fresh rows belong to their sender for a while; the relay takes them after RESEND_AFTER.
    assert outbox.unsent(database) == []
    later = utcnow() + outbox.RESEND_AFTER
    assert outbox.unsent(database, now=later) == [removed, restored]
    assert outbox.unsent(database, now=later, limit=1) == [removed]

    outbox.note_failure(database, [removed["decision_id"]], "BusUnavailableError: down")
    outbox.mark_sent(database, [restored["decision_id"]])
    [left] = _rows(database)
    assert (left.decision_id, left.attempts) == (removed["decision_id"], 1)
    assert left.last_error == "BusUnavailableError: down"
    assert outbox.backlog(database) == 1


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        models_dir=fasttext_models_dir(),
        localization={"langid_detector": "fasttext"},
        _env_file=None,  # type: ignore[call-arg]
    )


async def _received(services: Services) -> list[dict[str, Any]]:
    """Everything on ``moderation.decided``, read back as a consumer group of the test's own."""
    total = (await services.bus.stats(decisions.DECIDED_TOPIC)).messages
    got: list[dict[str, Any]] = []
    stop = asyncio.Event()

    async def handle(message: Message) -> None:
        got.append(message.payload)
        if len(got) >= total:
            stop.set()

    if total:
        await asyncio.wait_for(
            services.bus.consume(decisions.DECIDED_TOPIC, "outbox-test", handle, stop=stop), 20
        )
    return got


async def _send_fail_and_resend(settings: Settings, world: World) -> None:
    services = await open_services(settings)
    try:
        events = [_decide(world, "hold"), _decide(world, "remove")]
        # The topic is not declared yet: the bus refuses, a real failure of the first send.
        left = await outbox.publish(services.bus, services.db, events)
        assert left == [e["decision_id"] for e in events]
        rows = _rows(services.db)
        assert [r.attempts for r in rows] == [1, 1]
        assert all("UnknownTopicError" in (r.last_error or "") for r in rows)

        await services.bus.ensure_topics([decisions.DECIDED_TOPIC])
        assert await outbox.resend(services.bus, services.db) == 0, "too fresh to take over"
        assert outbox.backlog(services.db) == 2
        resent = await outbox.resend(services.bus, services.db, older_than=dt.timedelta(0))
        assert resent == 2
        assert outbox.backlog(services.db) == 0
        assert await outbox.resend(services.bus, services.db, older_than=dt.timedelta(0)) == 0

        # A later decision sent at once goes straight through and leaves nothing behind.
        third = _decide(world, "approve", reason_code="no_violation")
        assert await outbox.publish(services.bus, services.db, [third]) == []
        assert outbox.backlog(services.db) == 0
        assert await _received(services) == [*events, third]
    finally:
        await services.close()


def test_a_failed_send_stays_in_the_outbox_and_is_resent_in_chain_order(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    upgrade(settings.effective_database_url)
    db = Database(settings.effective_database_url)
    try:
        asyncio.run(_send_fail_and_resend(settings, build_world(db)))
    finally:
        db.dispose()


async def _worker_tick_resends(settings: Settings, world: World) -> None:
    services = await open_services(settings)
    try:
        await services.bus.ensure_topics([decisions.DECIDED_TOPIC])
        stranded = _decide(world, "remove")  # committed; its sender died before sending
        with services.db.session() as session:
            session.execute(
                update(DecisionOutbox).values(created_at=utcnow() - 2 * outbox.RESEND_AFTER)
            )
        [_comments, videos] = moderation.moderation_consumers(services)
        assert videos.tick is not None
        await videos.tick(False)
        assert outbox.backlog(services.db) == 0
        assert await _received(services) == [stranded]
    finally:
        await services.close()


def test_the_moderation_worker_tick_resends_what_was_left(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    upgrade(settings.effective_database_url)
    db = Database(settings.effective_database_url)
    try:
        asyncio.run(_worker_tick_resends(settings, build_world(db)))
    finally:
        db.dispose()
