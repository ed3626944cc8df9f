"""The event lake: Parquet files partitioned by event date, their manifest, rollups, compaction.

Layout under the object store's ``lake/`` prefix (Hive style, readable by DuckDB, Spark, Trino)::

    lake/events/event_date=2026-11-20/part-000000000042.parquet     a sink flush
    lake/events/event_date=2026-11-20/compact-000000000057.parquet  a compaction's output
    lake/rollups/hourly/event_date=2026-11-20/v000000000057.parquet one version per change
    lake/_manifest.json                                             the files that are live

The manifest is the commit point. Files are written first, then the manifest is replaced in one
put; readers list files from the manifest only, so they never see a half-written flush, a
compaction's inputs and output at once, or a partition that retention already dropped. Files the
manifest no longer names are deleted by ``vacuum`` after a grace period, so a query that read the
previous manifest can still finish.

One writer at a time (the lake sink, or a loader when no sink runs). Each ``append`` carries a
sequence number; an append whose number the manifest already holds is skipped, which makes a
writer's retry after a crash exactly-once. Only appends move the sequence; compaction,
retention and rollup refreshes name their files after the manifest version they create.

Rollups hold human traffic only and are additive per day: an append merges the new rows'
rollups into the day's current ones; compaction recomputes the day's rollups from its files.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.settings import Settings
from core.storage import LocalObjectStore, ObjectNotFoundError, ObjectStore

from .schema import ACTOR_ID_SQL, ACTOR_KEY_SQL, EVENT_SCHEMA, LAKE_SCHEMA

log = logging.getLogger(__name__)

PREFIX = "lake"
MANIFEST_KEY = f"{PREFIX}/_manifest.json"
EVENTS = "events"

#: Rollup name -> (SQL over a relation ``fresh`` of lake rows with event_date and actor_id,
#: the columns that identify a row, the additive measure columns).
ROLLUPS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "hourly": (
        """
        SELECT date_trunc('hour', ts) AS hour, event_date, event_type, region, platform, language,
               count(*)::BIGINT AS events, coalesce(sum(watched_ms), 0)::BIGINT AS watched_ms
        FROM fresh WHERE NOT is_bot GROUP BY ALL
        """,
        ("hour", "event_date", "event_type", "region", "platform", "language"),
        ("events", "watched_ms"),
    ),
    "video_daily": (
        """
        SELECT event_date, video_id, region, platform, language,
               count(*) FILTER (event_type = 'view_start')::BIGINT AS views,
               count(*) FILTER (event_type = 'complete')::BIGINT AS completes,
               coalesce(sum(watched_ms), 0)::BIGINT AS watched_ms,
               count(*) FILTER (event_type = 'like')::BIGINT AS likes,
               count(*) FILTER (event_type = 'share')::BIGINT AS shares,
               count(*) FILTER (event_type = 'comment')::BIGINT AS comments,
               count(*) FILTER (event_type = 'report')::BIGINT AS reports,
               count(*) FILTER (event_type = 'skip')::BIGINT AS skips
        FROM fresh WHERE NOT is_bot AND video_id IS NOT NULL GROUP BY ALL
        """,
        ("event_date", "video_id", "region", "platform", "language"),
        ("views", "completes", "watched_ms", "likes", "shares", "comments", "reports", "skips"),
    ),
    "actor_daily": (
        """
        SELECT event_date, actor_key, region, platform, language,
               count(*)::BIGINT AS events, coalesce(sum(watched_ms), 0)::BIGINT AS watched_ms
        FROM fresh WHERE NOT is_bot GROUP BY ALL
        """,
        ("event_date", "actor_key", "region", "platform", "language"),
        ("events", "watched_ms"),
    ),
}

#: Rows per Parquet row group: small enough for row-group pruning, large enough to compress.
ROW_GROUP_ROWS = 256 * 1024


@dataclass(frozen=True)
class LakeFile:
    key: str
    event_date: date
    rows: int
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "event_date": self.event_date.isoformat(),
            "rows": self.rows,
            "bytes": self.bytes,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> LakeFile:
        return cls(
            key=raw["key"],
            event_date=date.fromisoformat(raw["event_date"]),
            rows=int(raw["rows"]),
            bytes=int(raw["bytes"]),
        )


@dataclass
class Manifest:
    """What is live in the lake: files per table, the last applied sequence, retired files."""

    version: int = 0
    sequence: int = 0
    tables: dict[str, list[LakeFile]] = field(default_factory=dict)
    #: Files no longer live, with the time they were retired; ``vacuum`` deletes them later.
    retired: list[tuple[str, str]] = field(default_factory=list)

    def files(self, table: str) -> list[LakeFile]:
        return self.tables.get(table, [])

    def dates(self, table: str = EVENTS) -> list[date]:
        return sorted({f.event_date for f in self.files(table)})

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "format": 1,
                "version": self.version,
                "sequence": self.sequence,
                "tables": {
                    name: [f.to_json() for f in files] for name, files in self.tables.items()
                },
                "retired": [{"key": key, "at": at} for key, at in self.retired],
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        data = json.loads(raw)
        return cls(
            version=int(data["version"]),
            sequence=int(data["sequence"]),
            tables={
                name: [LakeFile.from_json(f) for f in files]
                for name, files in data["tables"].items()
            },
            retired=[(r["key"], r["at"]) for r in data.get("retired", [])],
        )


@dataclass(frozen=True)
class LakeStats:
    events: int
    event_files: int
    event_bytes: int
    days: int
    first_date: date | None
    last_date: date | None

    @property
    def bytes_per_event(self) -> float:
        return self.event_bytes / self.events if self.events else 0.0


def utc_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB whose session time zone is UTC: hours and dates are UTC's."""
    con = duckdb.connect()
    # Set after connecting: the time zone extension is loaded with the first connection.
    con.execute("SET TimeZone = 'UTC'")
    return con


def rollup_table(name: str) -> str:
    return f"rollup_{name}"


def _partition_key(table: str, day: date, name: str) -> str:
    folder = EVENTS if table == EVENTS else f"rollups/{table.removeprefix('rollup_')}"
    return f"{PREFIX}/{folder}/event_date={day.isoformat()}/{name}.parquet"


def _parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(
        table,
        buffer,
        compression="zstd",
        compression_level=3,
        row_group_size=ROW_GROUP_ROWS,
        write_statistics=True,
    )
    return buffer.getvalue()


def _with_derived(name: str) -> str:
    """SQL selecting ``name``'s events with event_date and actor_id added."""
    return (
        f"SELECT *, CAST(timezone('UTC', ts) AS DATE) AS event_date, "
        f"{ACTOR_ID_SQL} AS actor_id FROM {name}"
    )


class Lake:
    """The lake on an object store. Not thread-safe for writers: one writer per lake."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        cache_dir: Path | None = None,
        grace_seconds: float = 300.0,
        compact_min_files: int = 4,
        target_file_rows: int = 4_000_000,
    ) -> None:
        self.store = store
        self.cache_dir = cache_dir
        self.grace_seconds = grace_seconds
        self.compact_min_files = compact_min_files
        self.target_file_rows = target_file_rows
        self._cache_lock = threading.Lock()

    @classmethod
    def from_settings(cls, store: ObjectStore, settings: Settings) -> Lake:
        """The lake on ``store`` with the configured cache, grace period and compaction."""
        return cls(
            store,
            cache_dir=settings.effective_lake_cache_dir,
            grace_seconds=settings.events.grace_seconds,
            compact_min_files=settings.events.compact_min_files,
        )

    # -- manifest ---------------------------------------------------------------------------

    def manifest(self) -> Manifest:
        """The current manifest (an empty one for a new lake)."""
        try:
            return Manifest.from_bytes(self.store.get_bytes(MANIFEST_KEY))
        except ObjectNotFoundError:
            return Manifest()

    def _commit(self, manifest: Manifest) -> None:
        manifest.version += 1
        self.store.put(MANIFEST_KEY, manifest.to_bytes(), content_type="application/json")

    # -- reading ----------------------------------------------------------------------------

    def local_path(self, key: str) -> Path:
        """A local file holding ``key``: the file itself on a local store, else a cached copy.

        Lake files are immutable (a change makes a new key), so a cached copy never goes stale.
        """
        if isinstance(self.store, LocalObjectStore):
            return self.store.root.joinpath(*key.split("/"))
        if self.cache_dir is None:
            raise ValueError("a lake on a remote store needs a cache_dir to be read")
        path = self.cache_dir.joinpath(*key.split("/"))
        if not path.exists():
            with self._cache_lock:
                if not path.exists():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    temp = path.with_name(path.name + ".part")
                    with self.store.get(key) as stream, temp.open("wb") as out:
                        for chunk in stream:
                            out.write(chunk)
                    temp.replace(path)
        return path

    def stats(self, manifest: Manifest | None = None) -> LakeStats:
        manifest = manifest or self.manifest()
        files = manifest.files(EVENTS)
        dates = manifest.dates()
        return LakeStats(
            events=sum(f.rows for f in files),
            event_files=len(files),
            event_bytes=sum(f.bytes for f in files),
            days=len(dates),
            first_date=dates[0] if dates else None,
            last_date=dates[-1] if dates else None,
        )

    # -- writing ----------------------------------------------------------------------------

    def append(self, batch: pa.Table, *, sequence: int) -> bool:
        """Add ``batch`` (EVENT_SCHEMA rows) and merge its rollups; False if already applied.

        ``sequence`` must grow from one append to the next; re-appending the sequence of a
        committed append does nothing, so a writer may always retry its last append.
        """
        manifest = self.manifest()
        if sequence <= manifest.sequence:
            return False
        batch = batch.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA)
        tag = manifest.version + 1
        con = utc_connection()
        try:
            con.register("incoming", batch)
            # One sort by day and time, then a slice per day: no scan per partition.
            ordered = con.sql(
                f"SELECT *, {ACTOR_KEY_SQL} AS actor_key, "
                "CAST(timezone('UTC', ts) AS DATE) AS event_date FROM incoming "
                "ORDER BY event_date, ts"
            ).to_arrow_table()
            con.unregister("incoming")
            con.register("ordered", ordered)
            # ``ordered`` has its event_date already; only the actor is derived.
            con.execute(
                f"CREATE TEMP VIEW fresh AS SELECT *, {ACTOR_ID_SQL} AS actor_id FROM ordered"
            )
            days: list[date] = []
            offset = 0
            counts = pc.value_counts(ordered["event_date"]).to_pylist()
            for entry in sorted(counts, key=lambda item: item["values"]):
                day, rows = entry["values"], entry["counts"]
                part = ordered.slice(offset, rows).select(LAKE_SCHEMA.names).cast(LAKE_SCHEMA)
                self._add_file(manifest, EVENTS, day, f"part-{sequence:012d}", part)
                days.append(day)
                offset += rows
            self._merge_rollups(con, manifest, days, tag)
        finally:
            con.close()
        manifest.sequence = sequence
        self._commit(manifest)
        return True

    def _add_file(
        self, manifest: Manifest, table: str, day: date, name: str, rows: pa.Table
    ) -> LakeFile:
        key = _partition_key(table, day, name)
        data = _parquet_bytes(rows)
        self.store.put(key, data, content_type="application/vnd.apache.parquet")
        added = LakeFile(key=key, event_date=day, rows=rows.num_rows, bytes=len(data))
        manifest.tables.setdefault(table, []).append(added)
        return added

    def _retire(self, manifest: Manifest, table: str, keep: Iterable[LakeFile]) -> None:
        kept = set(keep)
        now = datetime.now(UTC).isoformat()
        for old in manifest.files(table):
            if old not in kept:
                manifest.retired.append((old.key, now))
        manifest.tables[table] = list(kept)

    def _merge_rollups(
        self, con: duckdb.DuckDBPyConnection, manifest: Manifest, days: Sequence[date], seq: int
    ) -> None:
        for name, (sql, keys, measures) in ROLLUPS.items():
            table = rollup_table(name)
            fresh = con.sql(sql).to_arrow_table()
            for day in days:
                current = [f for f in manifest.files(table) if f.event_date == day]
                merged = fresh.filter(pc.equal(fresh["event_date"], pa.scalar(day, pa.date32())))
                if current:
                    parts = [merged] + [pq.read_table(self.local_path(f.key)) for f in current]
                    merged = _sum_by(
                        con, pa.concat_tables(parts, promote_options="permissive"), keys, measures
                    )
                others = [f for f in manifest.files(table) if f.event_date != day]
                self._retire(manifest, table, others)
                self._add_file(manifest, table, day, f"v{seq:012d}", merged)

    def refresh_rollups(self, days: Iterable[date] | None = None) -> None:
        """Recompute the rollups of ``days`` (every day when None) from their event files."""
        manifest = self.manifest()
        wanted = sorted(set(days) if days is not None else manifest.dates())
        tag = manifest.version + 1
        con = utc_connection()
        try:
            for day in wanted:
                self._recompute_day(con, manifest, day, tag)
        finally:
            con.close()
        self._commit(manifest)

    def _recompute_day(
        self, con: duckdb.DuckDBPyConnection, manifest: Manifest, day: date, seq: int
    ) -> None:
        paths = [str(self.local_path(f.key)) for f in manifest.files(EVENTS) if f.event_date == day]
        for name, (sql, _keys, _measures) in ROLLUPS.items():
            table = rollup_table(name)
            others = [f for f in manifest.files(table) if f.event_date != day]
            self._retire(manifest, table, others)
            if not paths:
                continue
            con.read_parquet(paths).create_view("day_events", replace=True)
            con.execute(f"CREATE OR REPLACE TEMP VIEW fresh AS {_with_derived('day_events')}")
            self._add_file(manifest, table, day, f"v{seq:012d}", con.sql(sql).to_arrow_table())

    # -- compaction, retention, vacuum -------------------------------------------------------

    def compact(
        self,
        *,
        days: Iterable[date] | None = None,
        force: bool = False,
        min_files: int | None = None,
    ) -> list[date]:
        """Merge each day's files into as few as ``target_file_rows`` allows, dropping duplicate
        event ids; recompute the day's rollups. Returns the days compacted.

        A day is compacted when it has at least ``min_files`` files (default
        ``compact_min_files``; any number above one with ``force``).
        """
        manifest = self.manifest()
        tag = manifest.version + 1
        candidates = sorted(set(days) if days is not None else manifest.dates())
        done: list[date] = []
        con = utc_connection()
        try:
            for day in candidates:
                files = [f for f in manifest.files(EVENTS) if f.event_date == day]
                threshold = min_files if min_files is not None else self.compact_min_files
                if len(files) < (2 if force else max(2, threshold)):
                    continue
                paths = [str(self.local_path(f.key)) for f in files]
                con.read_parquet(paths).create_view("day_events", replace=True)
                merged = con.sql(
                    f"SELECT {', '.join(LAKE_SCHEMA.names)} FROM day_events "
                    "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY received_at) = 1 "
                    "ORDER BY event_type, ts"
                ).to_arrow_table()
                others = [f for f in manifest.files(EVENTS) if f.event_date != day]
                self._retire(manifest, EVENTS, others)
                for index, start in enumerate(range(0, merged.num_rows, self.target_file_rows)):
                    chunk = merged.slice(start, self.target_file_rows).cast(LAKE_SCHEMA)
                    self._add_file(manifest, EVENTS, day, f"compact-{tag:012d}-{index}", chunk)
                self._recompute_day(con, manifest, day, tag)
                done.append(day)
        finally:
            con.close()
        if done:
            self._commit(manifest)
        return done

    def drop_before(self, cutoff: date) -> list[date]:
        """Retire every partition (events and rollups) dated before ``cutoff``."""
        manifest = self.manifest()
        dropped = [d for d in manifest.dates() if d < cutoff]
        if not dropped:
            return []
        for table in list(manifest.tables):
            self._retire(
                manifest, table, [f for f in manifest.files(table) if f.event_date >= cutoff]
            )
        self._commit(manifest)
        return dropped

    def vacuum(self, *, now: datetime | None = None) -> int:
        """Delete retired files older than the grace period and files no manifest names."""
        manifest = self.manifest()
        now = now or datetime.now(UTC)
        cutoff = now - timedelta(seconds=self.grace_seconds)
        live = {f.key for files in manifest.tables.values() for f in files}
        keep: list[tuple[str, str]] = []
        deleted = 0
        for key, at in manifest.retired:
            if datetime.fromisoformat(at) <= cutoff:
                self._delete(key)
                deleted += 1
            else:
                keep.append((key, at))
        pending = {key for key, _ in keep}
        # Orphans: written by an append that crashed before its manifest commit.
        for info in self.store.list(f"{PREFIX}/"):
            if info.key == MANIFEST_KEY or info.key in live or info.key in pending:
                continue
            if info.modified <= cutoff:
                self._delete(info.key)
                deleted += 1
        if len(keep) != len(manifest.retired):
            manifest.retired = keep
            self._commit(manifest)
        return deleted

    def _delete(self, key: str) -> None:
        with contextlib.suppress(ObjectNotFoundError):
            self.store.delete(key)
        if self.cache_dir is not None:
            self.cache_dir.joinpath(*key.split("/")).unlink(missing_ok=True)


def _sum_by(
    con: duckdb.DuckDBPyConnection,
    rows: pa.Table,
    keys: Sequence[str],
    measures: Sequence[str],
) -> pa.Table:
    con.register("to_sum", rows)
    try:
        sums = ", ".join(f"sum({m})::BIGINT AS {m}" for m in measures)
        return con.sql(
            f"SELECT {', '.join(keys)}, {sums} FROM to_sum GROUP BY ALL"
        ).to_arrow_table()
    finally:
        con.unregister("to_sum")


def iter_event_batches(tables: Iterable[pa.Table], *, rows: int) -> Iterator[pa.Table]:
    """Regroup ``tables`` into tables of about ``rows`` rows (for loaders that append)."""
    pending: list[pa.Table] = []
    count = 0
    for table in tables:
        pending.append(table)
        count += table.num_rows
        if count >= rows:
            yield pa.concat_tables(pending)
            pending, count = [], 0
    if pending:
        yield pa.concat_tables(pending)
