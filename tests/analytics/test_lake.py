"""The lake: manifest-committed appends, rollups, compaction, retention, vacuum, and readers."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pytest

from analytics import EVENT_SCHEMA, Analytics, Lake
from analytics.lake import ROLLUPS
from core.storage import LocalObjectStore
from core.storage.s3 import S3ObjectStore
from tests.core.storage.conftest import (  # noqa: F401 - fixtures for the S3 case
    BOTO_CONFIG,
    CREDENTIALS,
    boto_session,
    s3_bucket,
    s3_client,
    s3_endpoint,
)


def events(rows: list[tuple[str, str, int, str, int | None, bool]]) -> pa.Table:
    """(event_type, actor, hour offset from 2026-11-20 00:00, region, watched_ms, is_bot)."""
    start = datetime(2026, 11, 20, tzinfo=UTC)
    return pa.Table.from_pylist(
        [
            {
                "event_id": uuid.uuid4().bytes,
                "event_type": kind,
                "ts": start + timedelta(hours=hour),
                "received_at": start + timedelta(hours=hour),
                "user_id": actor,
                "video_id": "v1" if kind != "search" else None,
                "region": region,
                "platform": "ios",
                "language": "pt",
                "watched_ms": watched,
                "is_bot": bot,
                "ts_clamped": False,
            }
            for kind, actor, hour, region, watched, bot in rows
        ],
        schema=EVENT_SCHEMA,
    )


SAMPLE = [
    ("view_start", "a", 1, "BR", None, False),
    ("watch", "a", 1, "BR", 4000, False),
    ("view_start", "b", 2, "BR", None, False),
    ("complete", "b", 2, "BR", None, False),
    ("like", "b", 3, "PT", None, False),
    ("view_start", "bot", 3, "BR", None, True),
    ("view_start", "a", 25, "BR", None, False),  # the next day
    ("watch", "a", 25, "BR", 1500, False),
]


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(LocalObjectStore(tmp_path / "objects"), grace_seconds=0)


def rollup_rows(analytics: Analytics, name: str) -> list[tuple[Any, ...]]:
    return analytics.cursor().sql(f"SELECT * FROM rollup_{name} ORDER BY ALL").fetchall()


def test_rollups_match_the_events_and_ignore_bots(lake: Lake) -> None:
    lake.append(events(SAMPLE), sequence=1)
    analytics = Analytics(lake)
    daily = analytics.cursor().sql(
        "SELECT event_date, sum(views), sum(completes), sum(watched_ms), sum(likes) "
        "FROM rollup_video_daily GROUP BY 1 ORDER BY 1"
    )
    assert daily.fetchall() == [
        (date(2026, 11, 20), 2, 1, 4000, 1),
        (date(2026, 11, 21), 1, 0, 1500, 0),
    ]
    actors = analytics.cursor().sql(
        "SELECT event_date, count(DISTINCT actor_key), sum(events) FROM rollup_actor_daily "
        "GROUP BY 1 ORDER BY 1"
    )
    assert actors.fetchall() == [(date(2026, 11, 20), 2, 5), (date(2026, 11, 21), 1, 2)]
    hours = analytics.cursor().sql(
        "SELECT hour, event_type, region, events FROM rollup_hourly "
        "WHERE event_type = 'view_start' ORDER BY 1"
    )
    assert [(h.hour, r) for h, _t, r, _n in hours.fetchall()] == [(1, "BR"), (2, "BR"), (1, "BR")]


def test_incremental_rollups_equal_a_recompute_from_the_files(lake: Lake) -> None:
    for sequence, start in enumerate(range(0, len(SAMPLE), 3), start=1):
        lake.append(events(SAMPLE[start : start + 3]), sequence=sequence)
    incremental = Analytics(lake)
    before = {name: rollup_rows(incremental, name) for name in ROLLUPS}
    lake.refresh_rollups()
    recomputed = Analytics(lake)
    assert {name: rollup_rows(recomputed, name) for name in ROLLUPS} == before


def test_an_append_is_applied_once_per_sequence(lake: Lake) -> None:
    batch = events(SAMPLE)
    assert lake.append(batch, sequence=1)
    assert not lake.append(batch, sequence=1)
    assert lake.stats().events == len(SAMPLE)
    lake.compact(force=True)
    assert not lake.append(batch, sequence=1), "maintenance does not move the sequence"
    assert lake.manifest().sequence == 1


def test_compaction_merges_files_drops_duplicate_ids_and_keeps_answers(lake: Lake) -> None:
    batch = events(SAMPLE)
    lake.append(batch, sequence=1)
    lake.append(batch.slice(0, 3), sequence=2)  # a duplicate delivery that slipped through
    lake.append(events(SAMPLE[:2]), sequence=3)
    analytics = Analytics(lake, manifest_check_seconds=0)
    assert analytics.cursor().sql("SELECT count(*) FROM events").fetchall() == [(13,)]
    assert lake.compact(days=[date(2026, 11, 20)], force=True) == [date(2026, 11, 20)]
    day_files = [f for f in lake.manifest().files("events") if f.event_date == date(2026, 11, 20)]
    assert len(day_files) == 1
    cursor = analytics.cursor()
    assert cursor.sql("SELECT count(*), count(DISTINCT event_id) FROM events").fetchall() == [
        (10, 10)
    ]
    views = cursor.sql("SELECT sum(views) FROM rollup_video_daily").fetchall()
    assert views == [(4,)], "rollups were recomputed without the duplicates"
    totals = cursor.sql(
        "SELECT event_date, video_id, views FROM rollup_video_totals ORDER BY ALL"
    ).fetchall()
    assert totals == [(date(2026, 11, 20), "v1", 3), (date(2026, 11, 21), "v1", 1)], (
        "the in-memory per-video totals follow the rollups day by day"
    )


def test_readers_keep_working_until_vacuum_after_the_grace_period(tmp_path: Path) -> None:
    lake = Lake(LocalObjectStore(tmp_path / "objects"), grace_seconds=60)
    lake.append(events(SAMPLE), sequence=1)
    lake.append(events(SAMPLE), sequence=2)
    old_keys = {f.key for f in lake.manifest().files("events")}
    lake.compact(force=True)
    assert lake.vacuum() == 0, "replaced files stay for the grace period"
    assert all((tmp_path / "objects" / key).exists() for key in old_keys)
    later = datetime.now(UTC) + timedelta(seconds=61)
    assert lake.vacuum(now=later) >= len(old_keys)
    assert not any((tmp_path / "objects" / key).exists() for key in old_keys)
    assert Analytics(lake).cursor().sql("SELECT count(*) FROM events").fetchall() == [(16,)]


def test_retention_drops_whole_days_from_readers(lake: Lake) -> None:
    lake.append(events(SAMPLE), sequence=1)
    analytics = Analytics(lake, manifest_check_seconds=0)
    assert lake.drop_before(date(2026, 11, 21)) == [date(2026, 11, 20)]
    cursor = analytics.cursor()
    assert cursor.sql("SELECT DISTINCT event_date FROM events").fetchall() == [
        (date(2026, 11, 21),)
    ]
    assert cursor.sql("SELECT DISTINCT event_date FROM rollup_hourly").fetchall() == [
        (date(2026, 11, 21),)
    ]


def test_the_sql_sandbox_reads_the_lake_but_not_the_machine(lake: Lake, tmp_path: Path) -> None:
    lake.append(events(SAMPLE), sequence=1)
    sandbox = Analytics(lake).sandbox_cursor()
    assert sandbox.sql("SELECT count(*) FROM events WHERE NOT is_bot").fetchall() == [(7,)]
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    with pytest.raises(Exception, match="disabled by configuration"):
        sandbox.sql(f"SELECT * FROM read_csv('{secret}')").fetchall()
    with pytest.raises(Exception, match="lock"):
        sandbox.execute("SET enable_external_access = true")


@pytest.mark.s3
def test_a_lake_on_s3_is_written_and_read_through_the_local_cache(
    s3_endpoint: str,  # noqa: F811
    s3_bucket: str,  # noqa: F811
    boto_session: boto3.session.Session,  # noqa: F811
    tmp_path: Path,
) -> None:
    store = S3ObjectStore(
        s3_bucket,
        "vigil",
        endpoint_url=s3_endpoint,
        access_key_id=CREDENTIALS["aws_access_key_id"],
        secret_access_key=CREDENTIALS["aws_secret_access_key"],
        session=boto_session,
    )
    lake = Lake(store, cache_dir=tmp_path / "cache", grace_seconds=0)
    lake.append(events(SAMPLE), sequence=1)
    lake.append(events(SAMPLE[:4]), sequence=2)
    assert lake.compact(force=True) == [date(2026, 11, 20)]
    analytics = Analytics(lake)
    cursor = analytics.cursor()
    assert cursor.sql("SELECT count(*) FROM events").fetchall() == [(12,)]
    assert cursor.sql("SELECT sum(views) FROM rollup_video_daily").fetchall() == [(5,)]
    assert any((tmp_path / "cache").rglob("*.parquet"))
    assert lake.vacuum() >= 1
    keys = {info.key for info in store.list("lake/events/")}
    assert keys == {f.key for f in lake.manifest().files("events")}
