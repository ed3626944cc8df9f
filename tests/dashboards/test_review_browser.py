"""The review console in Chromium, against the real server: a moderator reading Spanish cases in
English works a queue, and someone without the review scope is refused.

The database holds what the pipeline would have left for a toxic Spanish comment (the check with
its scores, a live and a shadow rule hit, the system's hold and the case in the Spanish toxicity
queue), a second Spanish case behind it and a German case in its own queue. A tiny Argos
package translates Spanish to English (gibberish, through the real Argos path); there is none
for German, so that case says which package is missing and how to install it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import PIL.Image
import pytest

import ingest
from core import auth
from core.bus import Message, open_bus_from_settings
from core.db import Database
from core.settings import Settings
from core.storage import open_store_from_settings
from ingest import Comment, Video, VideoState
from localization import install_translation_package
from moderation import Visibility, cases, decisions, visibility_of
from moderation.models import Case, ModerationCheck, Report, RuleHit
from tests.conftest import make_settings
from tests.dashboards.browser import chromium, serving
from tests.localization.tiny_argos import TinyArgosCache

pytestmark = [pytest.mark.browser, pytest.mark.slow]

QUEUE = "toxicity-es"
POLICY = "2026.05+3f2a9c1d7e44"
LIVE_RULE = "toxicity.hold-es"
SHADOW_RULE = "toxicity.remove-strict"
MODEL = "vigil-compact@1.0.0"


@dataclass(frozen=True)
class Site:
    url: str
    database: Database
    settings: Settings
    moderator: tuple[str, str, str]  # id, name, password
    analyst: tuple[str, str]  # name, password
    first: str  # case ids
    second: str
    german: str
    video_case: str
    video: str
    comment: str  # the first case's comment


def _user(session: Any, role: str, **fields: Any) -> tuple[auth.User, str]:
    user, password = auth.create_user(
        session, name=f"{role}-{uuid.uuid4().hex[:6]}", role=role, **fields
    )
    return user, password or ""


def _flagged_comment(
    session: Any,
    *,
    video: Video,
    author: auth.User,
    text: str,
    language: str,
    region: str,
    queue: str,
    priority: int,
    scores: dict[str, float],
) -> tuple[Comment, Case]:
    """A comment as the pipeline leaves a held one: check, rule hits, hold decision, case."""
    comment = Comment(
        video_id=video.id, author_id=author.id, text=text, language=language, region=region
    )
    session.add(comment)
    session.flush()
    check = ModerationCheck(
        subject_type="comment",
        subject_id=comment.id,
        content_sha256="0" * 64,
        region=region,
        language=language,
        language_confidence=0.97,
        normalized_text=text.lower(),
        translation=None,  # not pre-translated: the console translates on demand
        scores=scores,
        model_versions={"langid": "fasttext-lid.176@1", "toxicity": MODEL, "policy": POLICY},
        signals={
            "subject_type": "comment",
            "region": region,
            "language": language,
            "scores": scores,
            "terms": ["insults-es"],
            "terms_hit": [
                {"list": "insults-es", "term": "idiota", "region": region, "span": [8, 14]}
            ],
            "normalization": ["repeats"],
        },
        policy_version=POLICY,
        outcome="hold",
    )
    session.add(check)
    session.flush()
    for rule, mode, action in ((LIVE_RULE, "live", "hold"), (SHADOW_RULE, "shadow", "remove")):
        session.add(
            RuleHit(
                check_id=check.id,
                subject_type="comment",
                subject_id=comment.id,
                rule_id=rule,
                policy_version=POLICY,
                mode=mode,
                action=action,
                queue=queue if action == "hold" else None,
                priority=priority if action == "hold" else None,
                countries=[],
                reason_code="harassment",
            )
        )
    case = cases.open_case(
        session,
        subject_type="comment",
        subject_id=comment.id,
        queue=queue,
        priority=priority,
        reason=f"rule {LIVE_RULE} (harassment)",
        region=region,
        language=language,
        review_language="en",
        check_id=check.id,
        rule_ids=[LIVE_RULE],
    )
    decisions.record_decision(
        session,
        subject_type="comment",
        subject_id=comment.id,
        action="hold",
        reason_code="harassment",
        rule_ids=[LIVE_RULE],
        model_versions=check.model_versions,
        actor=decisions.SYSTEM_ACTOR,
        case_id=case.id,
        note=f"policy {POLICY}",
    )
    return comment, case


def _matched_video(session: Any, store: Any, creator: auth.User) -> tuple[Video, Case]:
    """A ready video whose frames matched a hash bank, reviewed in the media queue without a
    hold: it stays playable, so its thumbnail loads through the signed media route."""
    video = Video(
        creator_id=creator.id,
        caption="reto peligroso en la azotea",
        hashtags=["reto"],
        language="es",
        region="ES",
        state=VideoState.READY,
        duration_s=12.0,
        width=360,
        height=640,
        outputs={
            "master": "hls/master.m3u8",
            "thumbnails": {"360x640": "thumbs/360x640.jpg"},
            "rungs": [],
        },
    )
    session.add(video)
    session.flush()
    image = io.BytesIO()
    PIL.Image.new("RGB", (360, 640), (200, 60, 60)).save(image, format="JPEG")
    store.put(f"{ingest.service.video_folder(video.id)}/thumbs/360x640.jpg", image.getvalue())
    frames = [
        {"query_frame": i, "query_timestamp": i * 1.0, "target_frame": i + 3,
         "target_timestamp": i + 3.0, "distance": 10 + i}
        for i in range(10)
    ]  # fmt: skip
    check = ModerationCheck(
        subject_type="video",
        subject_id=video.id,
        content_sha256="1" * 64,
        region="ES",
        language="es",
        language_confidence=0.9,
        translation={
            "en": {
                "text": "dangerous challenge on the roof",
                "model": "argos:es_en@9",
                "error": None,
            }
        },
        scores={"toxicity": 0.12},
        model_versions={"langid": "fasttext-lid.176@1", "toxicity": MODEL, "policy": POLICY},
        signals={
            "hash_banks": ["demo-challenges"],
            "hash_matches": [
                {
                    "bank": "demo-challenges",
                    "entry_id": "e1",
                    "label": "rooftop challenge",
                    "distance": 10,
                    "query_match_percent": 83.33,
                    "frames": frames,
                }
            ],
        },
        policy_version=POLICY,
        outcome="publish",
    )
    session.add(check)
    session.flush()
    case = cases.open_case(
        session,
        subject_type="video",
        subject_id=video.id,
        queue="media-hash",
        priority=85,
        reason="rule media.hash-match (dangerous_challenge)",
        region="ES",
        language="es",
        check_id=check.id,
        rule_ids=["media.hash-match"],
    )
    return video, case


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Site]:
    tmp_path = tmp_path_factory.mktemp("review-site")
    shutil.copyfile(sqlite_template, tmp_path / "vigil.db")
    settings = make_settings(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'vigil.db'}",
        models_dir=tmp_path / "models",
    )
    package = TinyArgosCache(tmp_path / "argos").package("es", "en")
    install_translation_package(package, settings.effective_models_dir)
    database = Database(settings.effective_database_url)
    with database.session() as session:
        moderator, moderator_password = _user(session, "moderator", review_language="en")
        analyst, analyst_password = _user(session, "analyst")
        author, _ = _user(session, "viewer", country="ES")
        reporter, _ = _user(session, "viewer", country="ES")
        creator, _ = _user(session, "creator", country="ES")
        video = Video(creator_id=creator.id, caption="mi gato bailando", region="ES")
        session.add(video)
        session.flush()
        comment, first = _flagged_comment(
            session,
            video=video,
            author=author,
            text="eres un idiota y nadie te quiere",
            language="es",
            region="ES",
            queue=QUEUE,
            priority=70,
            scores={"toxicity": 0.94, "insult": 0.91, "threat": 0.04},
        )
        session.add(
            Report(
                reporter_id=reporter.id,
                subject_type="comment",
                subject_id=comment.id,
                reason="harassment",
                details="me insulta en cada video",
                region="ES",
                case_id=first.id,
            )
        )
        _, second = _flagged_comment(
            session,
            video=video,
            author=author,
            text="que video tan tonto, das pena",
            language="es",
            region="ES",
            queue=QUEUE,
            priority=50,
            scores={"toxicity": 0.71, "insult": 0.66},
        )
        _, german = _flagged_comment(
            session,
            video=video,
            author=author,
            text="du bist so dumm, hau ab",
            language="de",
            region="DE",
            queue="toxicity-de",
            priority=60,
            scores={"toxicity": 0.88, "insult": 0.84},
        )
        video_row, video_case = _matched_video(session, open_store_from_settings(settings), creator)
        found = Site(
            url="",
            database=database,
            settings=settings,
            moderator=(moderator.id, moderator.name, moderator_password),
            analyst=(analyst.name, analyst_password),
            first=first.id,
            second=second.id,
            german=german.id,
            video_case=video_case.id,
            video=video_row.id,
            comment=comment.id,
        )
    with serving(settings) as url:
        yield Site(**{**found.__dict__, "url": url})
    database.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as instance:
        yield instance


def _sign_in(site: Site, browser: Any, name: str, password: str) -> tuple[Any, list[str]]:
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(site.url + "/login")
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page, errors


def _decided_events(settings: Settings) -> list[dict[str, Any]]:
    """What is on ``moderation.decided``, read as a consumer group of the test's own."""

    async def read() -> list[dict[str, Any]]:
        bus = await open_bus_from_settings(settings)
        seen: list[dict[str, Any]] = []
        stop = asyncio.Event()
        total = (await bus.stats("moderation.decided")).messages

        async def handle(message: Message) -> None:
            seen.append(message.payload)
            if len(seen) >= total:
                stop.set()

        try:
            if total:
                await asyncio.wait_for(
                    bus.consume("moderation.decided", "review-test", handle, stop=stop), 20
                )
        finally:
            await bus.close()
        return seen

    # Playwright's sync API keeps an event loop on this thread: read from another one.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, read()).result(timeout=60)


def test_moderator_works_a_spanish_queue_in_english(
    site: Site, browser: Any, tmp_path: Path
) -> None:
    moderator_id, name, password = site.moderator
    page, errors = _sign_in(site, browser, name, password)

    # Home: the queues with their open cases; the review language is the moderator's.
    page.wait_for_url(site.url + "/review")
    page.wait_for_selector(f"tr[data-queue='{QUEUE}']")
    assert page.inner_text("#review-home-language") == "en"
    row = page.inner_text(f"tr[data-queue='{QUEUE}']")
    assert row.split("\t")[:3] == [QUEUE, "2", "0"], row
    page.screenshot(path=str(tmp_path / "review-home.png"), full_page=True)

    # The queue: priority first, with the top score and the rule that opened each case.
    page.click(f"#review-home-queue-{QUEUE}")
    page.wait_for_url(f"{site.url}/review/queue/{QUEUE}")
    page.wait_for_selector("tr.case-row")
    rows = page.locator("tr.case-row")
    assert rows.count() == 2
    assert rows.nth(0).get_attribute("data-case") == site.first
    assert rows.nth(1).get_attribute("data-case") == site.second
    first_row = rows.nth(0).inner_text()
    assert "toxicity 0.94" in first_row
    assert LIVE_RULE in first_row
    assert "due in" in first_row
    page.screenshot(path=str(tmp_path / "review-queue.png"), full_page=True)

    # Claim next: the highest-priority case opens, claimed by this moderator.
    page.click("#review-queue-claim")
    page.wait_for_url(f"{site.url}/review/case/{site.first}")
    page.wait_for_selector("#review-case-rules")
    assert "claimed by you" in page.inner_text("#review-case-meta")
    assert page.inner_text("#review-case-text") == "eres un idiota y nadie te quiere"
    rules = page.inner_text("#review-case-rules")
    for expected in (LIVE_RULE, SHADOW_RULE, "live", "shadow", POLICY):
        assert expected in rules
    scores = page.inner_text("#review-case-scores")
    assert "toxicity\t0.940" in scores
    assert MODEL in scores
    assert "idiota" in page.inner_text("#review-case-terms")
    assert "me insulta en cada video" in page.inner_text("#review-case-report-table")
    assert "hold" in page.inner_text("#review-case-decisions")
    assert page.inner_text("#review-case-language") == "es"
    # Translated on demand into English by the installed es->en package.
    page.wait_for_selector("#review-case-translated")
    assert page.inner_text("#review-case-translated").strip()
    assert "argos:es_en@1.0" in page.inner_text("#review-case-translation-model")
    page.screenshot(path=str(tmp_path / "review-case.png"), full_page=True)

    # A decision needs a reason: without one, the form says so and nothing is recorded.
    page.get_by_label("Remove", exact=True).check()
    page.click("#review-case-submit")
    page.wait_for_selector("#review-case-error:has-text('reason')")
    with site.database.session() as session:
        assert cases.get_case_or_raise(session, site.first).status == "open"

    page.click("#review-case-reason")
    page.get_by_role("option", name="Harassment or bullying (harassment)").click()
    page.fill("#review-case-note", "insulto directo")
    page.click("#review-case-submit")

    # On to the next case of the queue, with what was recorded.
    page.wait_for_url(f"{site.url}/review/case/{site.second}?done=*")
    page.wait_for_selector("#review-case-flash:has-text('Recorded decision')")
    assert "remove (harassment)" in page.inner_text("#review-case-flash")
    page.screenshot(path=str(tmp_path / "review-next-case.png"), full_page=True)
    assert page.is_enabled("#review-case-submit")

    with site.database.session() as session:
        case = cases.get_case_or_raise(session, site.first)
        assert case.status == "decided"
        assert case.closed_at is not None
        assert case.decision_id is not None
        decision = decisions.get_decision_or_raise(session, case.decision_id)
        assert (decision.action, decision.reason_code, decision.actor) == (
            "remove",
            "harassment",
            moderator_id,
        )
        assert decision.regions == ["*"]
        assert decision.note == "insulto directo"
        assert decision.rule_ids == [LIVE_RULE]
        assert decisions.verify_chain(session).ok
        verdict, _ = visibility_of(
            session, subject_type="comment", subject_id=site.comment, country="ES"
        )
        assert verdict == Visibility.REMOVED
        verdict, _ = visibility_of(
            session, subject_type="comment", subject_id=site.comment, country=None
        )
        assert verdict == Visibility.REMOVED
        decision_id = decision.id

    # The second case: blocked in Spain only; a block needs its countries.
    page.get_by_label("Block in countries", exact=True).check()
    page.wait_for_selector("#review-case-countries-field", state="visible")
    page.click("#review-case-reason")
    page.get_by_role("option", name="Harassment or bullying (harassment)").click()
    page.click("#review-case-submit")
    page.wait_for_selector("#review-case-error:has-text('countries')")
    page.click("#review-case-countries")
    page.keyboard.type("Spain")
    page.get_by_role("option", name="ES · Spain").click()
    page.keyboard.press("Escape")
    page.click("#review-case-submit")
    # The queue is empty now: back to it, saying so.
    page.wait_for_url(f"{site.url}/review/queue/{QUEUE}?done=*")
    page.wait_for_selector("#review-queue-flash:has-text('no other open case')")
    assert "block (harassment)" in page.inner_text("#review-queue-flash")
    assert page.inner_text("#review-queue-cases") == "No open cases in this queue."
    page.screenshot(path=str(tmp_path / "review-queue-done.png"), full_page=True)
    with site.database.session() as session:
        case = cases.get_case_or_raise(session, site.second)
        assert case.status == "decided"
        assert case.decision_id is not None
        blocked = decisions.get_decision_or_raise(session, case.decision_id)
        assert (blocked.action, blocked.regions) == ("block", ["ES"])
        assert decisions.verify_chain(session).ok
        verdict, _ = visibility_of(
            session, subject_type="comment", subject_id=case.subject_id, country="ES"
        )
        assert verdict == Visibility.BLOCKED

    # Both decisions went out on the bus, after they were committed.
    events = _decided_events(site.settings)
    assert [e["decision_id"] for e in events] == [decision_id, blocked.id]
    assert [e["action"] for e in events] == ["remove", "block"]
    assert events[0]["case_id"] == site.first

    # German: no es->de or de->en package, so the case says what to install.
    page.goto(f"{site.url}/review/case/{site.german}")
    page.wait_for_selector("#review-case-translation-error")
    message = page.inner_text("#review-case-translation-error")
    assert "no translation model for de->en" in message
    assert "vigil models install translate-de_en" in message
    assert "du bist so dumm" in page.inner_text("#review-case-text")
    page.screenshot(path=str(tmp_path / "review-case-german.png"), full_page=True)

    assert errors == [], errors


def test_video_case_shows_the_clip_and_the_hash_match_and_escalates(
    site: Site, browser: Any, tmp_path: Path
) -> None:
    _, name, password = site.moderator
    page, errors = _sign_in(site, browser, name, password)
    page.goto(f"{site.url}/review/case/{site.video_case}")
    page.wait_for_selector("#review-case-hashes")
    # The thumbnail came through the signed media route; the playback link is signed too.
    page.wait_for_function("() => document.querySelector('img.thumbnail')?.naturalWidth === 360")
    assert f"/v1/videos/{site.video}/media/thumbs/360x640.jpg?token=" in (
        page.get_attribute("img.thumbnail", "src") or ""
    )
    watch = page.get_attribute("text=Watch (HLS)", "href") or ""
    assert f"/v1/videos/{site.video}/media/hls/master.m3u8?token=" in watch
    assert "reto peligroso en la azotea #reto" in page.inner_text("#review-case-text")
    # The pipeline's own translation is shown, with its model.
    assert page.inner_text("#review-case-translated") == "dangerous challenge on the roof"
    assert "argos:es_en@9" in page.inner_text("#review-case-translation-model")
    evidence = page.inner_text("#review-case-hashes")
    assert "bank demo-challenges" in evidence
    assert "distance 10" in evidence
    assert "first 8 of 10" in evidence
    page.screenshot(path=str(tmp_path / "review-video-case.png"), full_page=True)

    page.get_by_label("Escalate to senior moderators", exact=True).check()
    page.click("#review-case-reason")
    page.get_by_role("option", name="Dangerous acts or challenges (dangerous_challenge)").click()
    page.fill("#review-case-note", "needs a second look")
    page.click("#review-case-submit")
    page.wait_for_url(f"{site.url}/review/queue/media-hash?done=*")
    page.wait_for_selector("#review-queue-flash:has-text('escalate')")
    with site.database.session() as session:
        case = cases.get_case_or_raise(session, site.video_case)
        assert case.status == "escalated"
        senior = cases.list_queue(session, "escalations")
        assert [(c.subject_id, c.escalated_from) for c in senior] == [(site.video, case.id)]
        assert decisions.verify_chain(session).ok
    assert errors == [], errors


def test_someone_without_the_review_scope_is_refused(site: Site, browser: Any) -> None:
    name, password = site.analyst
    page, _errors = _sign_in(site, browser, name, password)
    for path in ("/review", f"/review/queue/{QUEUE}", f"/review/case/{site.german}"):
        response = page.goto(site.url + path)
        assert response is not None
        assert response.status == 403, path
        assert "moderation:review" in page.content()

    # Calling the decision callback directly is refused by the callback itself.
    answer = page.request.post(
        site.url + "/_dash-update-component",
        data=json.dumps(
            {
                "output": "..review-case-nav.href...review-case-error.children..",
                "outputs": [
                    {"id": "review-case-nav", "property": "href"},
                    {"id": "review-case-error", "property": "children"},
                ],
                "inputs": [{"id": "review-case-submit", "property": "n_clicks", "value": 1}],
                "changedPropIds": ["review-case-submit.n_clicks"],
                "state": [
                    {"id": "review-case-id", "property": "data", "value": site.german},
                    {"id": "review-case-action", "property": "value", "value": "remove"},
                    {"id": "review-case-countries", "property": "value", "value": []},
                    {"id": "review-case-reason", "property": "value", "value": "harassment"},
                    {"id": "review-case-note", "property": "value", "value": ""},
                ],
            }
        ),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status == 200, answer.text()
    assert "lacks the scope 'moderation:review'" in answer.text()
    with site.database.session() as session:
        assert cases.get_case_or_raise(session, site.german).status == "open"
