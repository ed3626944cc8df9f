"""The lake sink: each accepted event reaches the lake once, whatever is redelivered or crashes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics import EVENT_COLUMNS, Lake
from core.settings import EventsSettings
from core.storage import LocalObjectStore
from ingest.events import RateWatch, decode_message, encode_messages, validate_batch
from ingest.lake_sink import LakeSink

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def message(
    count: int,
    *,
    day: date = date(2026, 11, 20),
    ids: list[str] | None = None,
    received_at: datetime = NOW,
):
    ids = ids or [str(uuid.uuid4()) for _ in range(count)]
    start = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    items = [
        {
            "event_id": event_id,
            "event_type": "view_start",
            "ts": (start + timedelta(seconds=n)).isoformat(),
            "user_id": f"u{n % 7}",
            "video_id": f"v{n % 3}",
            "region": "BR",
        }
        for n, event_id in enumerate(ids)
    ]
    batch = validate_batch(
        items,
        received_at=received_at,
        user_agent="app",
        limits=EventsSettings(),
        rates=RateWatch(limit=10**6),
    )
    [encoded] = encode_messages(batch, batch_id="b")
    return decode_message(encoded), ids


def lake_ids(lake: Lake) -> list[str]:
    paths = [str(lake.local_path(f.key)) for f in lake.manifest().files("events")]
    if not paths:
        return []
    rows = duckdb.read_parquet(paths).select("event_id").fetchall()
    return [str(uuid.UUID(bytes=bytes(r[0]))) for r in rows]


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(LocalObjectStore(tmp_path / "objects"), grace_seconds=0)


_OPEN: list[LakeSink] = []


def sink_for(lake: Lake, state: Path, **settings: Any) -> LakeSink:
    sink = LakeSink(lake, state_dir=state, settings=EventsSettings(**settings))
    _OPEN.append(sink)
    return sink


@pytest.fixture(autouse=True)
def _close_sinks() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def test_redelivered_and_overlapping_messages_stage_each_event_once(
    lake: Lake, tmp_path: Path
) -> None:
    sink = sink_for(lake, tmp_path / "state")
    first, ids = message(50)
    again, _ = message(0, ids=ids)  # the bus redelivers the same batch
    overlap, more = message(0, ids=ids[:10] + [str(uuid.uuid4()) for _ in range(5)])
    assert sink.stage(first).staged == 50
    assert sink.stage(again).staged == 0
    result = sink.stage(overlap)
    assert (result.staged, result.duplicates) == (5, 10)
    assert sink.flush() == 55
    assert sorted(lake_ids(lake)) == sorted(set(ids + more))
    # Already in the lake: a later retry of the same events is dropped too.
    assert sink.stage(message(0, ids=ids[:3])[0]).staged == 0
    assert sink.flush() == 0


def test_a_crash_after_the_lake_commit_does_not_write_twice(lake: Lake, tmp_path: Path) -> None:
    sink = sink_for(lake, tmp_path / "state")
    columns, ids = message(20)
    sink.stage(columns)
    staged = sink._db.execute("SELECT id, data FROM staged").fetchall()
    assert sink.flush() == 20
    # Put the staged row back, as if the process died before unstaging it.
    sink._db.executemany("INSERT INTO staged (id, events, data) VALUES (?, 20, ?)", staged)
    sink.close()
    _OPEN.remove(sink)
    restarted = sink_for(lake, tmp_path / "state")
    assert restarted.staged_events() == 20
    restarted.flush()
    assert restarted.staged_events() == 0
    assert sorted(lake_ids(lake)) == sorted(ids), "the repeated append was skipped"


def test_a_crash_before_the_lake_commit_leaves_only_orphans_vacuum_removes(
    lake: Lake, tmp_path: Path
) -> None:
    sink = sink_for(lake, tmp_path / "state")
    columns, ids = message(20)
    sink.stage(columns)
    # A file written by a flush that died before its manifest commit.
    orphan = lake.store.root / "lake/events/event_date=2026-11-20/part-000000000999.parquet"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"half a file")
    sink.flush()
    assert sorted(lake_ids(lake)) == sorted(ids), "readers never see the orphan"
    assert lake.vacuum() >= 1
    assert not orphan.exists()


def test_a_new_state_directory_continues_after_the_lake(lake: Lake, tmp_path: Path) -> None:
    first = sink_for(lake, tmp_path / "one")
    first.stage(message(5)[0])
    first.flush()
    second = sink_for(lake, tmp_path / "two")  # e.g. the sink moved to another machine
    columns, _ids = message(7)
    second.stage(columns)
    assert second.flush() == 7
    assert len(lake_ids(lake)) == 12


def test_flushes_start_early_once_enough_events_wait(lake: Lake, tmp_path: Path) -> None:
    sink = sink_for(lake, tmp_path / "state", flush_events=30, flush_seconds=3600)
    sink.stage(message(20)[0])
    assert not sink.due()
    assert sink.staged_events() == 20
    sink.stage(message(20)[0])
    assert sink.staged_events() == 0, "the second message crossed flush_events"
    assert len(lake_ids(lake)) == 40


def test_maintenance_compacts_drops_old_days_and_forgets_old_ids(
    lake: Lake, tmp_path: Path
) -> None:
    sink = sink_for(lake, tmp_path / "state", compact_min_files=3, retention_days=30, dedupe_days=2)
    today = date(2026, 11, 21)
    for _ in range(3):
        sink.stage(message(10, day=date(2026, 11, 20))[0], today=today - timedelta(days=5))
        sink.flush()
    old = datetime(2026, 9, 2, tzinfo=UTC)
    sink.stage(message(4, day=date(2026, 9, 1), received_at=old)[0], today=today)
    sink.flush()
    done = sink.maintain(today=today)
    assert done["compacted"] == ["2026-11-20"]
    assert done["dropped"] == ["2026-09-01"]
    assert done["forgotten_ids"] == 30
    manifest = lake.manifest()
    assert [f.event_date for f in manifest.files("events")] == [date(2026, 11, 20)]
    assert manifest.files("events")[0].rows == 30
    assert set(EVENT_COLUMNS) <= set(
        duckdb.read_parquet(str(lake.local_path(manifest.files("events")[0].key))).columns
    )


def test_a_second_sink_on_the_same_state_refuses_to_start(lake: Lake, tmp_path: Path) -> None:
    from ingest.lake_sink import SinkBusyError

    first = sink_for(lake, tmp_path / "state")
    with pytest.raises(SinkBusyError, match="one writer"):
        sink_for(lake, tmp_path / "state")
    first.close()
    _OPEN.remove(first)
    sink_for(lake, tmp_path / "state")
