"""The demo's trust-and-safety story, through the real API, bus and moderation worker.

Comments in several languages go to the demo's videos through ``POST /v1/videos/{id}/comments``:
friendly ones, clearly toxic ones, borderline ones, evasive spellings (leetspeak, spaced letters,
repeated letters), and the cases a careless model gets wrong (negation, counter-speech quoting
abuse, reclaimed terms). The moderation worker checks each, as in production. Then a demo hash
bank takes one clip's frame hashes as "known violating media" and a re-check finds it; users
report a comment; and a demo moderator works the queues, so the decision chain holds both
automatic and human decisions (and the policy backtest has something to agree with).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy import select

import ingest
import moderation
from core.auth import Role, User, create_user, principal_for
from core.db import Database
from core.runtime import open_services
from core.settings import Settings

from .demo_videos import access_token, api_in_process
from .server import ALL_TOPICS

DEMO_BANK = "demo-known-violating"
DEMO_ALLOWLIST = "demo-allowlist"
DEMO_MODERATOR = "demo-moderator"


@dataclass(frozen=True)
class DemoComment:
    country: str  # the author's country: the region whose rules apply
    text: str
    kind: str  # friendly, toxic, borderline, evasive, negation, counter_speech, reclaimed


COMMENTS: tuple[DemoComment, ...] = (
    DemoComment("ES", "¡Qué vídeo tan bonito! Me encanta el gato", "friendly"),
    DemoComment(
        "ES", "Eres un idiota de mierda, nadie quiere ver tu cara asquerosa, lárgate", "toxic"
    ),
    DemoComment("ES", "No odio a nadie, solo digo que el truco es difícil", "negation"),
    DemoComment("MX", "jajaja qué buen truco, lo voy a intentar", "friendly"),
    DemoComment("MX", "cállate pendejo, eres una basura", "toxic"),
    DemoComment("US", "this is so cool, where was this filmed?", "friendly"),
    DemoComment("US", "you are a pathetic 1d10t and a l0s3r, nobody likes you", "evasive"),
    DemoComment("US", "i d i o t s like you should stop posting", "evasive"),
    DemoComment("US", "stuuuupiiiid clip, what a moroooon", "evasive"),
    DemoComment("US", "I don't hate them at all, they seem really nice", "negation"),
    DemoComment(
        "US",
        "Someone called me a 'stupid idiot' under my last video and I reported it. Be kind.",
        "counter_speech",
    ),
    DemoComment("US", "as a queer person this video made my day", "reclaimed"),
    DemoComment("GB", "this is the dumbest trick I've ever seen lol", "borderline"),
    DemoComment("GB", "shut up, you worthless piece of trash, go away", "toxic"),
    DemoComment("BR", "que receita incrível, vou fazer hoje", "friendly"),
    DemoComment("BR", "cala a boca seu lixo, ninguém te suporta", "toxic"),
    DemoComment("DE", "Tolle Schritte, danke für das Tutorial!", "friendly"),
    DemoComment("DE", "Du bist so ein dummer Idiot, verpiss dich", "toxic"),
    DemoComment("FR", "super astuce, merci beaucoup", "friendly"),
    DemoComment("FR", "t'es vraiment un connard, ferme ta gueule", "toxic"),
    DemoComment("TR", "harika görünüyor, çok beğendim", "friendly"),
    DemoComment("JP", "すごくかわいい猫ですね", "friendly"),
)


def _authors(db: Database, rng: random.Random) -> dict[str, User]:
    """One demo account per country the comments come from."""
    found: dict[str, User] = {}
    with db.session() as session:
        for country in sorted({c.country for c in COMMENTS}):
            users = list(
                session.scalars(
                    select(User)
                    .where(User.country == country, User.role == Role.VIEWER.value)
                    .limit(20)
                )
            )
            if users:
                found[country] = rng.choice(users)
        session.expunge_all()
    return found


async def _wait_checked(db: Database, comment_ids: list[str], seconds: float) -> int:
    """Wait until the worker has checked every comment; returns how many it checked."""
    deadline = asyncio.get_running_loop().time() + seconds
    checked = 0
    while asyncio.get_running_loop().time() < deadline:
        with db.session() as session:
            checked = len(
                set(
                    session.scalars(
                        select(moderation.ModerationCheck.subject_id).where(
                            moderation.ModerationCheck.subject_type == "comment",
                            moderation.ModerationCheck.subject_id.in_(comment_ids),
                        )
                    )
                )
            )
        if checked == len(comment_ids):
            break
        await asyncio.sleep(0.3)
    return checked


def _moderator(session: object) -> User:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    user = session.scalar(select(User).where(User.name == DEMO_MODERATOR))
    if user is None:
        user, _ = create_user(
            session,
            name=DEMO_MODERATOR,
            role=Role.MODERATOR.value,
            display_name="Demo Moderator",
            country="US",
            language="en",
        )
        user.review_language = "en"
        user.password_hash = None  # the demo's moderator cannot sign in
        session.flush()
    return user


def _hash_bank_and_recheck(services_db: Database, checker: moderation.Checker) -> list[dict]:
    """A bank of known violating media holding one demo clip, and an allowlist that suppresses
    another; re-checking the videos finds the first and not the second."""
    events: list[dict] = []
    with services_db.session() as session:
        videos = list(
            session.scalars(
                select(ingest.Video)
                .where(ingest.Video.state == ingest.VideoState.READY.value)
                .order_by(ingest.Video.created_at)
            )
        )
        if len(videos) < 2:
            return events
        if session.scalar(
            select(moderation.HashBank.id).where(moderation.HashBank.name == DEMO_BANK)
        ):
            return events
        bank = moderation.hashbanks.create_bank(
            session, DEMO_BANK, description="Demo: media a trust-and-safety team has confirmed"
        )
        moderation.hashbanks.add_video(session, bank, videos[0].id, label="demo: known scam clip")
        moderation.hashbanks.add_video(
            session, bank, videos[1].id, label="demo: clip later cleared"
        )
        allow = moderation.hashbanks.create_bank(
            session,
            DEMO_ALLOWLIST,
            negative=True,
            description="Demo: media cleared on appeal; suppresses matches",
        )
        moderation.hashbanks.add_video(session, allow, videos[1].id, label="demo: cleared")
        video_ids = [video.id for video in videos]
    for video_id in video_ids:
        with services_db.session() as session:
            outcome = moderation.check_video(session, checker, video_id, force=True)
            events.extend(outcome.events)
    return events


def _human_decisions(db: Database, comment_ids: list[str], reporters: list[User]) -> list[dict]:
    """Reports on one comment, then the demo moderator decides the open cases: removes what the
    toxicity model held with a high score, approves the rest (so the chain and the backtest have
    both)."""
    events: list[dict] = []
    with db.session() as session:
        moderator = _moderator(session)
        who = principal_for(moderator)
        target = comment_ids[-1] if comment_ids else None
        if target is not None:
            for reporter in reporters[:3]:
                moderation.file_report(
                    session,
                    reporter_id=reporter.id,
                    subject_type="comment",
                    subject_id=target,
                    reason="spam",
                    details="demo report",
                )
        session.flush()
        open_cases = list(
            session.scalars(
                select(moderation.Case)
                .where(moderation.Case.status == "open", moderation.Case.kind == "review")
                .order_by(moderation.Case.priority.desc(), moderation.Case.opened_at)
            )
        )
        for index, case in enumerate(open_cases):
            if index % 4 == 3:
                continue  # leave some work in the queues for whoever opens the console
            check = session.scalar(
                select(moderation.ModerationCheck).where(
                    moderation.ModerationCheck.subject_type == case.subject_type,
                    moderation.ModerationCheck.subject_id == case.subject_id,
                    moderation.ModerationCheck.is_current.is_(True),
                )
            )
            toxicity = float((check.scores or {}).get("toxicity", 0.0)) if check else 0.0
            violating = toxicity >= 0.8 or case.subject_type == "video"
            outcome = moderation.decide_case(
                session,
                case.id,
                who,
                "remove" if violating else "approve",
                reason_code=(
                    (moderation.cases.reason_code_in(case.reason) or "harassment")
                    if violating
                    else moderation.cases.NO_VIOLATION
                ),
                note="demo: reviewed by the demo moderator",
            )
            events.append(moderation.decision_event(outcome))
    return events


async def _run(settings: Settings, seed: int, progress: Callable[[int], None]) -> dict[str, int]:
    rng = random.Random(seed)
    services = await open_services(settings)
    await services.bus.ensure_topics(ALL_TOPICS)
    counts = {"comments": 0, "checked": 0, "held": 0, "removed": 0, "human_decisions": 0}
    try:
        consumers = moderation.moderation_consumers(services)
        async with api_in_process(services, consumers) as url:
            with services.db.session() as session:
                video_ids = list(
                    session.scalars(
                        select(ingest.Video.id)
                        .where(ingest.Video.state == ingest.VideoState.READY.value)
                        .order_by(ingest.Video.created_at)
                    )
                )
            if not video_ids:
                raise RuntimeError("no ready videos to comment on: run the demo with --videos")
            authors = _authors(services.db, rng)
            comment_ids: list[str] = []
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                for index, comment in enumerate(COMMENTS):
                    author = authors.get(comment.country)
                    if author is None:
                        continue
                    response = await client.post(
                        f"/v1/videos/{video_ids[index % len(video_ids)]}/comments",
                        json={"text": comment.text},
                        headers={"Authorization": f"Bearer {access_token(settings, author)}"},
                    )
                    response.raise_for_status()
                    comment_ids.append(str(response.json()["id"]))
                    progress(1)
            counts["comments"] = len(comment_ids)
            counts["checked"] = await _wait_checked(services.db, comment_ids, seconds=120)
            checker = await asyncio.to_thread(moderation.shared_checker, settings)
            events = await asyncio.to_thread(_hash_bank_and_recheck, services.db, checker)
            events += await asyncio.to_thread(
                _human_decisions, services.db, comment_ids, list(authors.values())
            )
            unsent = await moderation.outbox.publish(services.bus, services.db, events)
            if unsent:
                raise RuntimeError(f"{len(unsent)} decision events could not be sent; see the log")
        with services.db.session() as session:
            rows = session.scalars(select(moderation.Decision)).all()
            counts["held"] = sum(1 for d in rows if d.action == "hold")
            counts["removed"] = sum(1 for d in rows if d.action == "remove")
            counts["human_decisions"] = sum(1 for d in rows if d.actor != moderation.SYSTEM_ACTOR)
    finally:
        await services.close()
    return counts


def run_moderation_demo(settings: Settings, *, seed: int, progress: Callable[[int], None]) -> str:
    """Post the demo comments, let the worker check them, match a demo hash bank, decide cases;
    returns a one-line summary."""
    counts = asyncio.run(_run(settings, seed, progress))
    return (
        f"{counts['comments']} comments ({counts['checked']} checked by the worker), "
        f"{counts['held']} held and {counts['removed']} removed, "
        f"{counts['human_decisions']} decisions by the demo moderator"
    )
