"""What the review console's pages share: the signed-in moderator and their review language, the
translator the console keeps per process, claiming the next case of a queue, publishing the
decision event, and how times and errors read on the page.

Dash imports the page modules of this folder by itself; this module is not a page (it declares
none), so it is imported only by the review pages, as a plain module.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import flask
from dash import dcc, html
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth import Principal, Scope, User
from core.db import utcnow
from core.errors import InvalidInputError, VigilError
from core.settings import Settings
from dashboards.app import principal, services
from localization import UNDETERMINED, Translator
from moderation import cases, decisions, outbox
from moderation.models import Case

log = logging.getLogger(__name__)

#: Where decisions are announced (the visibility, search and feed consumers listen).
#: How long a decision's page waits for the bus before saying the event was not sent.
PUBLISH_TIMEOUT_SECONDS = 10.0

_TRANSLATOR_KEY = "vigil.review_translator"


def moderator() -> Principal:
    """The signed-in user, refused unless they may review (``moderation:review``)."""
    me = principal()
    me.require(Scope.MODERATION_REVIEW)
    return me


def review_language(session: Session, me: Principal, settings: Settings) -> str:
    """The language ``me`` reads cases in: their own choice, else the deployment's default."""
    user = session.get(User, me.id) if me.kind == "user" else None
    chosen = (user.review_language or "").strip() if user is not None else ""
    return chosen or settings.localization.default_review_language


def user_names(session: Session, ids: Iterable[str | None]) -> dict[str, str]:
    """``user id -> name`` for the ids given (moderators holding claims, decision actors)."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.name).where(User.id.in_(wanted))).all()
    return {str(row.id): str(row.name) for row in rows}


# --- translation --------------------------------------------------------------------------------


def translator() -> Translator:
    """The console's translator, one per process (its LRU cache is shared by every moderator:
    a queue shows the same comment to several of them)."""
    config = flask.current_app.config
    found: Translator | None = config.get(_TRANSLATOR_KEY)
    if found is None:
        settings = services().settings
        made = Translator(
            settings.effective_models_dir,
            cache_size=settings.localization.translation_cache_size,
        )
        # setdefault keeps the first one when two requests race; construction loads nothing.
        found = config.setdefault(_TRANSLATOR_KEY, made)
    return found


@dataclass(frozen=True)
class ShownTranslation:
    """The translation a moderator sees, and where it came from."""

    target: str
    text: str | None
    model: str | None
    error: str | None
    origin: str  # "check" (made by the pipeline), "on demand", "same language", "none"


def stored_translation(stored: Mapping[str, Any] | None, target: str) -> Mapping[str, Any] | None:
    """The check's translation into ``target``: ``{target: {text, model, error}}`` as the
    pipeline writes it, or one ``{"target", "text", "model", "error"}`` object."""
    if not stored:
        return None
    if stored.get("target") == target and "text" in stored:
        return stored
    found = stored.get(target)
    return found if isinstance(found, Mapping) else None


def translation_for(
    text: str,
    *,
    source: str | None,
    target: str,
    stored: Mapping[str, Any] | None,
    translate: Any,
) -> ShownTranslation:
    """The text in the moderator's language: the check's own translation when it has one for
    ``target``, else ``translate(text, source, target)`` (a Translator's, which never raises and
    names the missing package and its install command instead)."""
    if not text.strip():
        return ShownTranslation(target, None, None, "nothing to translate", "none")
    if not source or source == UNDETERMINED:
        return ShownTranslation(
            target, None, None, "language undetermined; nothing to translate from", "none"
        )
    if source == target:
        return ShownTranslation(target, text, None, None, "same language")
    ready = stored_translation(stored, target)
    if ready is not None and ready.get("text"):
        return ShownTranslation(target, str(ready["text"]), ready.get("model"), None, "check")
    done = translate(text, source, target)
    return ShownTranslation(target, done.text, done.model, done.error, "on demand")


# --- queue work ---------------------------------------------------------------------------------


def claim_next(
    session: Session, queue: str, me: Principal, *, now: dt.datetime | None = None
) -> Case | None:
    """Claim the first case of ``queue``, in working order, that nobody else holds; None when
    there is none. A case someone claims between our look and our claim is skipped."""
    at = now or utcnow()
    config = services().settings.moderation
    for case in cases.list_queue(session, queue, limit=200, include_overdue_first=False, now=at):
        held = case.claimed_until is not None and case.claimed_until > at
        if held and case.assigned_to != me.id:
            continue
        try:
            return cases.claim_case(session, case.id, me, now=at, config=config)
        except (cases.CaseClaimedError, cases.CaseClosedError):
            continue
    return None


# --- deciding ----------------------------------------------------------------------------------

#: The decisions a moderator can take here: (action, label).
DECISION_ACTIONS: tuple[tuple[str, str], ...] = (
    ("approve", "Approve"),
    ("remove", "Remove"),
    ("age_restrict", "Age-restrict"),
    ("block", "Block in countries"),
    ("limit_distribution", "Limit distribution"),
    ("escalate", "Escalate to senior moderators"),
)
#: Actions that may apply in some countries only (the others apply everywhere).
REGIONAL_ACTIONS = frozenset({"block", "age_restrict", "limit_distribution"})


def parse_decision(
    action: str | None, countries: Sequence[str] | None, reason: str | None, note: str | None
) -> tuple[str, tuple[str, ...], str, str]:
    """The form's values, or InvalidInputError naming the field to fix."""
    known = {value for value, _ in DECISION_ACTIONS}
    if action not in known:
        raise InvalidInputError(
            f"choose a decision: {', '.join(sorted(known))}", details={"field": "action"}
        )
    if not reason:
        raise InvalidInputError(
            "choose a reason code for the decision", details={"field": "reason"}
        )
    regions = tuple(countries or ()) if action in REGIONAL_ACTIONS else ()
    if action == "block" and not regions:
        raise InvalidInputError(
            "choose the countries to block it in", details={"field": "countries"}
        )
    return action, regions or (decisions.EVERYWHERE,), reason, (note or "").strip()


# --- the bus ------------------------------------------------------------------------------------


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The server's event loop, which owns the bus connection. Dash runs callbacks on a worker
    thread (a2wsgi); the ASGI scope's state may name the loop (``loop``), and a2wsgi's request
    body object holds it."""
    environ = flask.request.environ
    state = (environ.get("asgi.scope") or {}).get("state") or {}
    loop = state.get("loop") or getattr(environ.get("wsgi.input"), "loop", None)
    return loop if isinstance(loop, asyncio.AbstractEventLoop) and loop.is_running() else None


def publish_decided(events: Sequence[dict[str, Any]]) -> list[str]:
    """Send committed decisions' events on ``moderation.decided``, on the server's loop.

    Returns the decision ids whose events could not be sent: they stay in the outbox and the
    worker resends them. Raises TimeoutError when the bus does not answer in time (the events
    are in the outbox all the same)."""
    if not events:
        return []
    opened = services()

    async def send() -> list[str]:
        return await outbox.publish(opened.bus, opened.db, events)

    loop = _server_loop()
    if loop is not None:
        future = asyncio.run_coroutine_threadsafe(send(), loop)
        return future.result(timeout=PUBLISH_TIMEOUT_SECONDS)
    # No server loop to hand it to (a plain WSGI server): a loop of our own.
    return asyncio.run(asyncio.wait_for(send(), timeout=PUBLISH_TIMEOUT_SECONDS))


# --- how things read ----------------------------------------------------------------------------


def duration(seconds: float) -> str:
    """``3 d 4 h``, ``2 h 05 min``, ``12 min``, ``40 s``: the two largest units."""
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def countdown(due_at: dt.datetime, now: dt.datetime) -> tuple[str, bool]:
    """The SLA countdown of a case and whether it is overdue."""
    left = (due_at - now).total_seconds()
    if left < 0:
        return f"overdue by {duration(left)}", True
    return f"due in {duration(left)}", False


def decision_flash(session: Session, done: Mapping[str, Any] | None, tail: str) -> Any:
    """What the moderator's last decision was, on the page it moved them to; says so when its
    event could not be published (the decision itself stands)."""
    decision_id = (done or {}).get("decision")
    if not decision_id:
        return None
    try:
        decision = decisions.get_decision_or_raise(session, str(decision_id))
    except VigilError:
        return None
    text = (
        f"Recorded decision #{decision.seq}: {decision.action} ({decision.reason_code}) on "
        f"{decision.subject_type} {decision.subject_id}. {tail}"
    )
    if (done or {}).get("unsent"):
        text += (
            f" Its {decisions.DECIDED_TOPIC} event could not be sent yet (the server log says "
            "why): the visibility table has the decision, and the worker resends the event from "
            "the outbox."
        )
    return text


def done_state(done: str | None, unsent: str | None) -> dict[str, Any]:
    """The ``?done=DECISION&unsent=1`` query a decision leaves, as the page's store holds it."""
    return {"decision": done or "", "unsent": unsent in ("1", "true")}


def utc(at: dt.datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else "-"


def error_alert(exc: VigilError) -> html.Span:
    """A refused action, as the alert slot shows it: what went wrong and what to do."""
    field = exc.details.get("field")
    prefix = f"{field}: " if field and str(field) not in exc.message else ""
    return html.Span(prefix + exc.message)


def queue_link(name: str, **props: Any) -> dcc.Link:
    return dcc.Link(name, href=f"/review/queue/{name}", **props)


def review_nav(current: str) -> html.Nav:
    """The console's own links: the queues overview, and the queue of the page when it has one."""
    links = [dcc.Link("Queues", href="/review", className="subnav-link")]
    if current:
        links.append(queue_link(current, className="subnav-link active"))
    return html.Nav(links, className="subnav", **{"aria-label": "Review console"})
