"""A toxic Spanish comment, end to end through the real API server, bus and moderation worker:
detected, translated for an English-speaking moderator, held in Spain's queue with the rule and
scores that caused it; the same rule in shadow mode only records; a moderator decides; the
backtest prints its agreement; the decision chain verifies."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

import ingest
import moderation
from core import auth
from core.db import Database, upgrade
from core.runtime import open_services
from core.settings import Settings
from localization import REGIONS, install_langid_model, install_translation_package
from localization.langid import fasttext_model_path
from tests.localization.model_cache import fasttext_models_dir
from tests.localization.tiny_argos import TinyArgosCache
from vigil.cli import app as cli
from vigil.demo_videos import access_token, api_in_process
from vigil.server import ALL_TOPICS

pytestmark = pytest.mark.slow

TOXIC_ES = "Eres un idiota de mierda, nadie quiere ver tu cara asquerosa, lárgate"
REGIONS_DIR = Path(__file__).resolve().parents[2] / "localization" / "regions"


def _settings(tmp_path: Path, **moderation_overrides: object) -> Settings:
    models = tmp_path / "models"
    if not fasttext_model_path(models).is_file():
        install_langid_model(fasttext_model_path(fasttext_models_dir()), models)
        cache = TinyArgosCache(tmp_path / "argos-build")
        install_translation_package(cache.package("es", "en"), models)
    return Settings(
        data_dir=tmp_path / "data",
        models_dir=models,
        moderation={"recheck_seconds": 3600, **moderation_overrides},
        _env_file=None,  # type: ignore[call-arg]
    )


def _people(db: Database) -> tuple[auth.User, auth.User, str]:
    with db.session() as session:
        author, _ = auth.create_user(session, name="lucia.es", role="viewer", country="ES")
        moderator, _ = auth.create_user(
            session, name="mod.en", role="moderator", country="GB", language="en"
        )
        moderator.review_language = "en"
        creator, _ = auth.create_user(session, name="maker", role="creator", country="ES")
        video = ingest.Video(creator_id=creator.id, caption="el gato", state="ready", region="ES")
        session.add(video)
        session.flush()
        session.expunge_all()
        return author, moderator, video.id


async def _post_and_wait(settings: Settings, author: auth.User, video_id: str) -> str:
    services = await open_services(settings)
    await services.bus.ensure_topics(ALL_TOPICS)
    try:
        consumers = moderation.moderation_consumers(services)
        async with (
            api_in_process(services, consumers) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as client,
        ):
            posted = await client.post(
                f"/v1/videos/{video_id}/comments",
                json={"text": TOXIC_ES},
                headers={"Authorization": f"Bearer {access_token(settings, author)}"},
            )
            assert posted.status_code == 201, posted.text
            comment_id = str(posted.json()["id"])
            # The case commits first and the announcement follows it: wait for both. The first
            # comment also waits for the worker to load its models, slow on a busy machine.
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with services.db.session() as session:
                    held = session.scalar(
                        select(moderation.Case.id).where(moderation.Case.subject_id == comment_id)
                    )
                decided = await services.bus.stats("moderation.decided")
                if held and decided.messages >= 1:
                    break
                await asyncio.sleep(0.1)
            assert held, "the comment was held in a case"
            assert decided.messages >= 1, "the hold was announced on moderation.decided"
        return comment_id
    finally:
        await services.close()


def test_spanish_toxic_comment_is_held_for_spain_and_translated(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    upgrade(settings.effective_database_url)
    db = Database(settings.effective_database_url)
    try:
        author, moderator, video_id = _people(db)
        comment_id = asyncio.run(_post_and_wait(settings, author, video_id))

        with db.session() as session:
            check = session.scalars(
                select(moderation.ModerationCheck).where(
                    moderation.ModerationCheck.subject_id == comment_id
                )
            ).one()
            assert check.language == "es"
            assert check.scores["toxicity"] >= 0.8, check.scores
            assert check.outcome == "hold"
            assert set(check.model_versions) == {"langid", "toxicity", "policy"}
            hits = {
                h.rule_id: h
                for h in session.scalars(
                    select(moderation.RuleHit).where(moderation.RuleHit.check_id == check.id)
                )
            }
            assert hits["toxicity-hold"].mode == "live"
            assert hits["toxicity-hold"].queue == "es-ES", "Spain's override routes it"
            case = session.scalars(
                select(moderation.Case).where(moderation.Case.subject_id == comment_id)
            ).one()
            assert case.queue == "es-ES"
            assert case.region == "ES"
            assert "toxicity-hold" in case.rule_ids
            english = check.translation["en"]
            assert english["error"] is None
            assert english["model"].startswith("argos:es_en")
            assert english["text"], "translated for English-speaking moderators"
            shown, _ = moderation.visibility_of(
                session, subject_type="comment", subject_id=comment_id, country="ES"
            )
            assert shown == moderation.Visibility.HELD
            mod = auth.principal_for(session.get(auth.User, moderator.id))
            outcome = moderation.decide_case(
                session, case.id, mod, "remove", reason_code="harassment", note="insult"
            )
            assert outcome.decision.actor == moderator.id

        runner = CliRunner()
        env = {"VIGIL_DATA_DIR": str(settings.data_dir)}
        verified = runner.invoke(cli, ["decisions", "verify", "--json"], env=env)
        assert verified.exit_code == 0, verified.output
        assert json.loads(verified.output)["ok"] is True

        draft = tmp_path / "draft.yaml"
        draft.write_text(
            "version: draft-1\nrules:\n"
            "  - id: draft-toxicity\n    mode: live\n"
            "    description: A lower bar for toxicity, tried on stored content.\n"
            "    when: scores.toxicity >= 0.5\n"
            "    then: {action: hold, queue: drafts, priority: 50, reason_code: harassment}\n"
        )
        backtest = runner.invoke(cli, ["policy", "backtest", str(draft), "--json"], env=env)
        assert backtest.exit_code == 0, backtest.output
        report = json.loads(backtest.output)
        assert report["labelled"] >= 1
        assert report["precision"] == 1.0, "the one human removal agrees with the draft"
    finally:
        db.dispose()


def test_the_same_rule_in_shadow_mode_records_without_acting(tmp_path: Path) -> None:
    regions = tmp_path / "regions"
    shutil.copytree(REGIONS_DIR, regions)
    spain = (regions / "ES.yaml").read_text()
    shadowed = spain.replace("then: {queue: es-ES}", "then: {queue: es-ES}\n      mode: shadow")
    shadowed = shadowed.replace("      mode: live\n", "      mode: shadow\n")
    assert shadowed != spain
    (regions / "ES.yaml").write_text(shadowed)
    settings = _settings(tmp_path, regions_dir=regions)
    assert "ES" in REGIONS
    upgrade(settings.effective_database_url)
    db = Database(settings.effective_database_url)
    try:
        author, _moderator, video_id = _people(db)
        with db.session() as session:
            comment = ingest.Comment(
                video_id=video_id, author_id=author.id, text=TOXIC_ES, region="ES"
            )
            session.add(comment)
            session.flush()
            outcome = moderation.check_comment(
                session, moderation.shared_checker(settings), comment.id
            )
            assert outcome.check is not None
            hits = {h.rule_id: h.mode for h in outcome.evaluation.hits}
            assert hits["toxicity-hold"] == "shadow"
            assert hits["es-spanish-toxicity-hold"] == "shadow"
            acted = {rule for d in outcome.decided for rule in d.decision.rule_ids}
            assert not acted & {"toxicity-hold", "es-spanish-toxicity-hold"}
            assert (
                session.scalar(
                    select(moderation.Case.id).where(moderation.Case.subject_id == comment.id)
                )
                is None
                or outcome.check.outcome != "publish"
            )
            recorded = session.scalars(
                select(moderation.RuleHit.mode).where(
                    moderation.RuleHit.check_id == outcome.check.id,
                    moderation.RuleHit.rule_id == "toxicity-hold",
                )
            ).all()
            assert recorded == ["shadow"]
    finally:
        db.dispose()
