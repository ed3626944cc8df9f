"""The demo's engagement events go through the real collector and sink into the lake."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

import ingest
from analytics import Lake
from core import auth
from core.db import Database, upgrade
from core.settings import Settings
from core.storage import LocalObjectStore
from vigil.demo_events import post_demo_events

pytestmark = pytest.mark.slow


def test_demo_events_reach_the_lake_through_the_collector(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    upgrade(settings.effective_database_url)
    db = Database(settings.effective_database_url)
    with db.session() as session:
        creators = []
        for n, (country, language) in enumerate([("ES", "es"), ("BR", "pt"), ("US", "en")]):
            user, _ = auth.create_user(
                session, name=f"creator{n}", role="creator", country=country, language=language
            )
            creators.append(user)
        for n in range(30):
            auth.create_user(session, name=f"viewer{n}", role="viewer", country="ES")
        session.flush()
        for n, creator in enumerate(creators * 2):
            session.add(
                ingest.Video(
                    creator_id=creator.id,
                    caption=f"clip {n} #demo",
                    hashtags=["demo"],
                    state=ingest.VideoState.READY.value,
                    duration_s=8.0,
                    region=creator.country,
                )
            )
    summary = post_demo_events(settings, events=3000, days=7, seed=3, progress=lambda _n: None)
    assert "written to the lake" in summary

    lake = Lake(LocalObjectStore(tmp_path / "objects"))
    paths = [str(lake.local_path(f.key)) for f in lake.manifest().files("events")]
    rows = duckdb.read_parquet(paths)
    [(total, distinct, bots, days)] = rows.aggregate(
        "count(*), count(DISTINCT event_id), count(*) FILTER (is_bot), count(DISTINCT ts::DATE)"
    ).fetchall()
    assert total == distinct, "client retries were dropped"
    assert 2900 <= total < 3000, "every event but the repeats"
    assert bots > 0, "the crawler's events are flagged"
    assert 5 <= days <= 7
    with db.session() as session:
        oldest = min(u.created_at for u in session.query(auth.User).filter_by(role="viewer"))
    assert oldest < dt.datetime.now(dt.UTC) - dt.timedelta(days=1), "sign-ups have a history"
    db.dispose()
