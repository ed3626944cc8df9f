"""Bus handlers of the moderation room: check every new comment and every transcoded video, and
re-check what older models or an older policy judged, and resend decision events left in the
outbox (``moderation.outbox``)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from core.bus import Message
from core.bus.runner import Consumer
from core.errors import UnavailableError
from core.runtime import Services

from . import metrics, outbox
from .pipeline import (
    Checker,
    CheckOutcome,
    check_comment,
    check_video,
    recheck,
    shared_checker,
    stale_subjects,
)

log = logging.getLogger(__name__)

MODERATION_GROUP = "moderation"


class _LazyChecker:
    """The process's models and policy (:func:`shared_checker`), loaded in the background as soon
    as the consumers are made; the worker's /readyz says ``models: loading`` until then, and the
    loading error (the missing file and the command that installs it) if it failed."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._checker: Checker | None = None
        self._error: Exception | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._load, name="moderation-models", daemon=True).start()
        services.probes["models"] = self._probe

    def _load(self) -> None:
        started = time.perf_counter()
        try:
            checker = shared_checker(self._services.settings)
        except Exception as exc:  # noqa: BLE001 - reported by readiness and by every handler
            log.error("moderation models did not load: %s", exc)
            self._error = exc
        else:
            self._checker = checker
            self._services.info.update(checker.versions)
            log.info(
                "moderation models loaded in %.1f s: %s",
                time.perf_counter() - started,
                ", ".join(f"{k}={v}" for k, v in checker.versions.items()),
            )
        finally:
            self._ready.set()

    async def _probe(self) -> None:
        if not self._ready.is_set():
            raise UnavailableError("loading models")
        if self._error is not None:
            raise UnavailableError(str(self._error))

    def get(self) -> Checker:
        self._ready.wait()
        if self._checker is None:
            assert self._error is not None
            raise self._error
        return self._checker


def _observe(subject_type: str, outcome: CheckOutcome, started: float) -> None:
    if outcome.check is None:
        return
    metrics.CHECK_SECONDS.labels(subject_type).observe(time.perf_counter() - started)
    metrics.CHECKS_TOTAL.labels(subject_type, outcome.check.outcome).inc()
    if outcome.evaluation is not None:
        for hit in outcome.evaluation.hits:
            metrics.RULE_HITS_TOTAL.labels(hit.rule_id, hit.mode).inc()
    for decided in outcome.decided:
        metrics.DECISIONS_TOTAL.labels(decided.decision.action, "system").inc()


def _run_check(
    services: Services,
    checker: _LazyChecker,
    subject_type: str,
    run: Callable[..., CheckOutcome],
    subject_id: str,
) -> list[dict[str, Any]]:
    """One check in one transaction; returns the decision events to publish after the commit."""
    started = time.perf_counter()
    with services.db.session() as session:
        outcome = run(session, checker.get(), subject_id)
        events = outcome.events
    _observe(subject_type, outcome, started)
    if outcome.skipped:
        log.debug("%s %s: %s", subject_type, subject_id, outcome.skipped)
    return events


def moderation_consumers(services: Services) -> list[Consumer]:
    """Checks on ``comment.created`` and ``video.transcoded``; the re-check job runs beside the
    comment consumer every ``VIGIL_MODERATION__RECHECK_SECONDS``, the outbox relay beside the
    video consumer every ``outbox.RESEND_AFTER``."""
    checker = _LazyChecker(services)
    bus = services.bus
    settings = services.settings.moderation

    async def publish(events: list[dict[str, Any]]) -> None:
        # A failed send leaves the events in the outbox: the relay tick below resends them.
        await outbox.publish(bus, services.db, events)

    async def on_comment(message: Message) -> None:
        comment_id = str(message.payload["comment_id"])
        events = await asyncio.to_thread(
            _run_check, services, checker, "comment", check_comment, comment_id
        )
        await publish(events)

    async def on_video(message: Message) -> None:
        video_id = str(message.payload["video_id"])
        events = await asyncio.to_thread(
            _run_check, services, checker, "video", check_video, video_id
        )
        await publish(events)

    def recheck_batch() -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        with services.db.session() as session:
            todo = stale_subjects(session, checker.get(), limit=settings.recheck_batch)
        for subject_type, subject_id in todo:
            started = time.perf_counter()
            with services.db.session() as session:
                outcome = recheck(session, checker.get(), subject_type, subject_id)
                events.extend(outcome.events)
            _observe(subject_type, outcome, started)
            metrics.RECHECKS_TOTAL.labels(subject_type).inc()
        if todo:
            log.info("re-checked %d subjects", len(todo))
        return events

    async def tick(final: bool) -> None:
        if not final:
            await publish(await asyncio.to_thread(recheck_batch))

    async def relay(final: bool) -> None:
        if not final:
            await outbox.resend(bus, services.db)

    return [
        Consumer(
            "comment.created",
            MODERATION_GROUP,
            on_comment,
            name="moderation-comments",
            tick=tick,
            tick_seconds=settings.recheck_seconds,
        ),
        Consumer(
            "video.transcoded",
            MODERATION_GROUP,
            on_video,
            name="moderation-videos",
            tick=relay,
            tick_seconds=outbox.RESEND_AFTER.total_seconds(),
        ),
    ]
