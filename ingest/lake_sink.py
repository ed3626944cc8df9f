"""The lake sink: accepted events from the bus into the Parquet lake, each exactly once.

Per ``events.accepted`` message, in one local SQLite transaction, the sink keeps the events whose
ids it has not seen (the dedupe index, ``dedupe_days`` long) and stages them; only then does the
bus see the acknowledgement. A redelivered message therefore stages nothing twice.

Every ``flush_seconds`` (or sooner once ``flush_events`` wait) the staged events go to the lake
in one ``Lake.append`` whose sequence is the last staged row's id, and are then unstaged. A crash
between the two repeats the append with the same sequence, which the lake skips as applied;
a crash before the append commits leaves orphan files that ``vacuum`` removes. So each accepted
event reaches the lake once, whatever dies when.

Maintenance on its own clock: compaction of partitions with many files, retention, vacuum,
pruning of the dedupe index. One sink per lake (the ``lake`` consumer group, one member).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from analytics import Lake
from core.bus import Message
from core.bus.runner import Consumer
from core.errors import UnavailableError
from core.runtime import Services
from core.settings import EventsSettings

from . import metrics
from .events import decode_message

log = logging.getLogger(__name__)

LAKE_GROUP = "lake"
EVENTS_TOPIC = "events.accepted"
_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    event_id BLOB PRIMARY KEY,
    day INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_by_day ON seen (day);
CREATE TABLE IF NOT EXISTS staged (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    events INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
#: SQLite's limit on bound parameters is far above this; chunks keep statements cacheable.
_LOOKUP_CHUNK = 500


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def _from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(data).read_all()


class SinkBusyError(UnavailableError):
    code = "lake_sink_busy"


@dataclass(frozen=True)
class StageResult:
    staged: int
    duplicates: int


class LakeSink:
    """Dedupe, staging and flushing for one lake. Use from one thread at a time."""

    def __init__(self, lake: Lake, *, state_dir: Path, settings: EventsSettings) -> None:
        self.lake = lake
        self.settings = settings
        state_dir.mkdir(parents=True, exist_ok=True)
        # The lake has one writer: a second sink on the same state refuses to start.
        self._lock = (state_dir / "sink.lock").open("a+")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise SinkBusyError(
                f"another lake sink holds {state_dir / 'sink.lock'}; the lake has one writer",
                details={"state_dir": str(state_dir)},
            ) from None
        self._db = sqlite3.connect(state_dir / "sink.db", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged bus message must not vanish with a power cut either.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT value FROM meta WHERE name = 'sequence_base'").fetchone()
        if row is None:
            # A new state directory beside an existing lake continues after its sequence.
            self._base = self.lake.manifest().sequence
            self._db.execute(
                "INSERT INTO meta (name, value) VALUES ('sequence_base', ?)", (self._base,)
            )
        else:
            self._base = int(row[0])
        (staged,) = self._db.execute("SELECT coalesce(sum(events), 0) FROM staged").fetchone()
        # Counted here, not summed per message: the count is read after every message.
        self._staged = int(staged)
        self.last_flush = time.monotonic()
        self.last_maintenance = time.monotonic()

    def close(self) -> None:
        self._db.close()
        self._lock.close()  # releases the flock

    # -- staging ------------------------------------------------------------------------

    def stage(self, events: pa.Table, *, today: date | None = None) -> StageResult:
        """Stage the events not seen before; returns how many, and the repeats.

        Flushes once ``flush_events`` are staged.
        """
        ids: list[bytes] = events.column("event_id").to_pylist()
        day = (today or datetime.now(UTC).date()).toordinal()
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            known: set[bytes] = set()
            for start in range(0, len(ids), _LOOKUP_CHUNK):
                chunk = ids[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                known.update(
                    row[0]
                    for row in db.execute(
                        f"SELECT event_id FROM seen WHERE event_id IN ({marks})",  # noqa: S608
                        chunk,
                    )
                )
            keep: list[int] = []
            for index, event_id in enumerate(ids):
                if event_id not in known:
                    known.add(event_id)  # a repeat inside the message counts once too
                    keep.append(index)
            if keep:
                table = events if len(keep) == len(ids) else events.take(keep)
                db.executemany(
                    "INSERT OR IGNORE INTO seen (event_id, day) VALUES (?, ?)",
                    ((ids[i], day) for i in keep),
                )
                db.execute(
                    "INSERT INTO staged (events, data) VALUES (?, ?)", (len(keep), _ipc(table))
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._staged += len(keep)
        if self.staged_events() >= self.settings.flush_events:
            self.flush()
        return StageResult(staged=len(keep), duplicates=len(ids) - len(keep))

    def staged_events(self) -> int:
        return self._staged

    def due(self) -> bool:
        """Whether a flush should run now."""
        waited = time.monotonic() - self.last_flush
        staged = self.staged_events()
        return staged > 0 and (
            waited >= self.settings.flush_seconds or staged >= self.settings.flush_events
        )

    # -- flushing -----------------------------------------------------------------------

    def flush(self) -> int:
        """Append everything staged to the lake; returns the number of events flushed."""
        rows = self._db.execute("SELECT id, data FROM staged ORDER BY id").fetchall()
        self.last_flush = time.monotonic()
        if not rows:
            return 0
        last_id = int(rows[-1][0])
        table = pa.concat_tables([_from_ipc(data) for _, data in rows])
        started = time.perf_counter()
        applied = self.lake.append(table, sequence=self._base + last_id)
        metrics.LAKE_FLUSH_SECONDS.observe(time.perf_counter() - started)
        self._db.execute("DELETE FROM staged WHERE id <= ?", (last_id,))
        self._staged = 0
        flushed = int(table.num_rows)
        if applied:
            metrics.LAKE_EVENTS.inc(flushed)
        log.info("lake flush: %d events (sequence %d)", flushed, self._base + last_id)
        return flushed

    # -- maintenance --------------------------------------------------------------------

    def maintain(self, *, today: date | None = None) -> dict[str, Any]:
        """Compact, apply retention, vacuum and prune the dedupe index; returns what it did."""
        today = today or datetime.now(UTC).date()
        self.last_maintenance = time.monotonic()
        started = time.perf_counter()
        compacted = self.lake.compact(min_files=self.settings.compact_min_files)
        if compacted:
            metrics.LAKE_COMPACTION_SECONDS.observe(time.perf_counter() - started)
        dropped = self.lake.drop_before(today - timedelta(days=self.settings.retention_days))
        deleted = self.lake.vacuum()
        horizon = (today - timedelta(days=self.settings.dedupe_days)).toordinal()
        pruned = self._db.execute("DELETE FROM seen WHERE day < ?", (horizon,)).rowcount
        stats = self.lake.stats()
        metrics.LAKE_BYTES.set(stats.event_bytes)
        metrics.LAKE_FILES.set(stats.event_files)
        return {
            "compacted": [d.isoformat() for d in compacted],
            "dropped": [d.isoformat() for d in dropped],
            "deleted_files": deleted,
            "forgotten_ids": pruned,
        }


def open_sink(services: Services) -> LakeSink:
    settings = services.settings
    lake = Lake.from_settings(services.store, settings)
    return LakeSink(lake, state_dir=settings.effective_lake_state_dir, settings=settings.events)


def lake_consumers(services: Services) -> list[Consumer]:
    """The lake sink on ``events.accepted``: stage per message, flush and maintain on a clock.

    Returns no consumer (and says why) when another process already runs the sink.
    """
    # One thread owns the sink's SQLite connection and the lake writes, in order.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lake-sink")
    try:
        sink = executor.submit(open_sink, services).result()
    except SinkBusyError as exc:
        log.warning("not running the lake sink here: %s", exc.message)
        executor.shutdown()
        return []

    async def on_thread(work: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(executor, work, *args)

    async def handle(message: Message) -> None:
        events = decode_message(message.payload)
        result = await on_thread(sink.stage, events)
        metrics.LAKE_DUPLICATES.inc(result.duplicates)

    async def tick(final: bool) -> None:
        if final:
            # Stopping: flush what is staged, then let go of the state (and its lock).
            await on_thread(sink.flush)
            await on_thread(sink.close)
            executor.shutdown(wait=False)
            return
        if await on_thread(sink.due):
            await on_thread(sink.flush)
        waited = time.monotonic() - sink.last_maintenance
        if waited >= sink.settings.compact_interval_seconds:
            done = await on_thread(sink.maintain)
            if any(done.values()):
                log.info("lake maintenance: %s", done)

    return [Consumer(EVENTS_TOPIC, LAKE_GROUP, handle, name="lake", tick=tick, tick_seconds=1.0)]
