"""The query side: one in-process DuckDB database with the lake and metadata as relations.

``Analytics.cursor()`` hands out a cursor on which these relations exist (the insight functions
depend on nothing else):

- ``events``: the lake's event files (a view over the live Parquet files, Hive ``event_date``),
  plus ``actor_id`` = the user id, or the device id of an anonymous viewer, and the stored
  ``actor_key``, a 64-bit key of the actor that counts and joins fast;
- ``rollup_hourly``, ``rollup_video_daily``, ``rollup_actor_daily``: the rollups, held in memory
  and refreshed day by day as the manifest changes, so overview charts never scan raw events;
  ``rollup_video_totals`` is ``rollup_video_daily`` with the dimensions summed away, keyed by
  ``video_key``, for ranking videos when no dimension is filtered;
- ``videos`` and ``users``: metadata from the database, reloaded after ``metadata_ttl_seconds``.

``sandbox_cursor()`` is for analysts' own SQL: a separate database holding the same relations as
registered Arrow datasets, with file and network access switched off and the configuration
locked, so a query can read what analysts may see and nothing else on the machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from .lake import EVENTS, ROLLUPS, Lake, Manifest, rollup_table, utc_connection
from .schema import ACTOR_ID_SQL, LAKE_SCHEMA

if TYPE_CHECKING:
    from core.runtime import Services

VIDEOS_SCHEMA = pa.schema(
    [
        ("video_id", pa.string()),
        ("creator_id", pa.string()),
        ("caption", pa.string()),
        ("hashtags", pa.list_(pa.string())),
        ("sound", pa.string()),
        ("language", pa.string()),
        ("region", pa.string()),
        ("duration_ms", pa.int64()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("state", pa.string()),
    ]
)
USERS_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("name", pa.string()),
        ("country", pa.string()),
        ("language", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
    ]
)

_EVENTS_SELECT = f"SELECT *, {ACTOR_ID_SQL} AS actor_id FROM "
_VIDEO_SUMS = ", ".join(f"sum({m})::BIGINT AS {m}" for m in ROLLUPS["video_daily"][2])
_EMPTY_EVENTS_VIEW = (
    "CREATE OR REPLACE VIEW events AS SELECT *, NULL::DATE AS event_date, "
    f"{ACTOR_ID_SQL} AS actor_id FROM _empty_events"
)


@dataclass(frozen=True)
class Metadata:
    """The metadata relations, as Arrow tables in VIDEOS_SCHEMA and USERS_SCHEMA."""

    videos: pa.Table
    users: pa.Table

    @classmethod
    def empty(cls) -> Metadata:
        return cls(videos=VIDEOS_SCHEMA.empty_table(), users=USERS_SCHEMA.empty_table())


MetadataLoader = Callable[[], Metadata]


class Analytics:
    """Thread-safe: every caller takes its own cursor; refreshes happen under a lock."""

    def __init__(
        self,
        lake: Lake,
        *,
        metadata: MetadataLoader | None = None,
        metadata_ttl_seconds: float = 60.0,
        manifest_check_seconds: float = 1.0,
        threads: int | None = None,
        memory_limit: str | None = None,
    ) -> None:
        self.lake = lake
        self._load_metadata = metadata or Metadata.empty
        self._metadata_ttl = metadata_ttl_seconds
        self._manifest_check = manifest_check_seconds
        config: dict[str, Any] = {}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        self._db = duckdb.connect(config=config)
        self._db.execute("SET TimeZone = 'UTC'")  # hours and dates are UTC's everywhere
        self._lock = threading.RLock()
        self._manifest: Manifest | None = None
        self._manifest_checked = 0.0
        self._metadata_loaded = -1e18
        self._metadata: Metadata = Metadata.empty()
        self._rollup_keys: dict[str, dict[date, str]] = {rollup_table(n): {} for n in ROLLUPS}
        with self._lock:
            self._create_empty()

    # -- public -----------------------------------------------------------------------------

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the current lake and metadata (refreshed first when they changed)."""
        self.refresh()
        return self._db.cursor()

    def refresh(self, *, force: bool = False) -> None:
        """Pick up a new manifest or stale metadata; cheap when nothing changed."""
        now = time.monotonic()
        with self._lock:
            if force or now - self._manifest_checked >= self._manifest_check:
                self._manifest_checked = now
                manifest = self.lake.manifest()
                if self._manifest is None or manifest.version != self._manifest.version:
                    self._apply(manifest)
            if force or now - self._metadata_loaded >= self._metadata_ttl:
                self._metadata_loaded = now
                self._metadata = self._load_metadata()
                self._store_metadata()

    def manifest(self) -> Manifest:
        """The manifest the relations currently reflect."""
        self.refresh()
        with self._lock:
            return self._manifest or Manifest()

    def sandbox_cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for untrusted read-only SQL: the same relations, no file or network access."""
        self.refresh()
        with self._lock:
            manifest = self._manifest or Manifest()
            sandbox = utc_connection()
            sandbox.register("events_data", self._events_dataset(manifest))
            sandbox.execute(f"CREATE VIEW events AS {_EVENTS_SELECT} events_data")
            for name in ROLLUPS:
                table = rollup_table(name)
                sandbox.register(table, self._db.sql(f"SELECT * FROM {table}").to_arrow_table())
            sandbox.register("videos", self._metadata.videos)
            sandbox.register("users", self._metadata.users)
        sandbox.execute("SET enable_external_access = false")
        sandbox.execute("SET lock_configuration = true")
        return sandbox

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- internals --------------------------------------------------------------------------

    def _create_empty(self) -> None:
        self._db.register("_empty_events", LAKE_SCHEMA.empty_table())
        self._db.execute(_EMPTY_EVENTS_VIEW)
        for name, (sql, _keys, _measures) in ROLLUPS.items():
            self._db.execute(
                "CREATE OR REPLACE TEMP VIEW fresh AS SELECT *, NULL::DATE AS event_date, "
                "NULL::VARCHAR AS actor_id FROM _empty_events"
            )
            self._db.execute(f"CREATE OR REPLACE TABLE {rollup_table(name)} AS {sql} LIMIT 0")
        self._db.execute("DROP VIEW fresh")
        self._db.execute(
            f"CREATE OR REPLACE TABLE rollup_video_totals AS SELECT event_date, "
            f"hash(video_id) AS video_key, video_id, {_VIDEO_SUMS} FROM rollup_video_daily "
            "GROUP BY event_date, video_id LIMIT 0"
        )
        self._store_metadata()

    def _store_metadata(self) -> None:
        """Copy the current metadata into the ``videos`` and ``users`` tables."""
        for name, table in (("videos", self._metadata.videos), ("users", self._metadata.users)):
            self._db.register(f"_{name}", table)
            self._db.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _{name}")
            self._db.unregister(f"_{name}")

    def _event_paths(self, manifest: Manifest) -> list[str]:
        return [str(self.lake.local_path(f.key)) for f in manifest.files(EVENTS)]

    def _events_dataset(self, manifest: Manifest) -> ds.Dataset:
        schema = LAKE_SCHEMA.append(pa.field("event_date", pa.date32()))
        return ds.dataset(
            self._event_paths(manifest),
            schema=schema,
            format="parquet",
            partitioning=ds.partitioning(pa.schema([("event_date", pa.date32())]), flavor="hive"),
            partition_base_dir=str(self.lake.local_path("lake/events")),
        )

    def _refresh_video_totals(self, stale: list[date], *, fresh_days: list[date]) -> None:
        """Keep ``rollup_video_totals`` (per video per day, every dimension summed) in step.

        Ranking videos over a period without a dimension filter reads it instead of the
        per-dimension rollup: several times fewer rows, grouped by a 64-bit key rather than the
        text id (a collision between two of a million videos has odds of about 1 in 30 million;
        the key lives only in memory, so it may change with the engine's hash function).
        """
        changed = sorted(set(stale) | set(fresh_days))
        if not changed:
            return
        self._db.execute(
            f"DELETE FROM rollup_video_totals WHERE event_date IN {_sql_dates(changed)}"
        )
        if fresh_days:
            self._db.execute(
                f"""INSERT INTO rollup_video_totals BY NAME
                SELECT event_date, hash(video_id) AS video_key, video_id, {_VIDEO_SUMS}
                FROM rollup_video_daily WHERE event_date IN {_sql_dates(sorted(fresh_days))}
                GROUP BY event_date, video_id"""
            )

    def _apply(self, manifest: Manifest) -> None:
        paths = self._event_paths(manifest)
        if paths:
            self._db.execute(
                f"CREATE OR REPLACE VIEW events AS {_EVENTS_SELECT} read_parquet("
                f"{_sql_list(paths)}, hive_partitioning = true, "
                "hive_types = {'event_date': DATE})"
            )
        else:
            self._db.execute(_EMPTY_EVENTS_VIEW)
        for table, loaded in self._rollup_keys.items():
            wanted = {f.event_date: f.key for f in manifest.files(table)}
            stale = [d for d, key in loaded.items() if wanted.get(d) != key]
            fresh = [key for d, key in wanted.items() if loaded.get(d) != key]
            if not stale and not fresh:
                continue
            self._db.execute("BEGIN TRANSACTION")
            try:
                if stale:
                    self._db.execute(f"DELETE FROM {table} WHERE event_date IN {_sql_dates(stale)}")
                if fresh:
                    paths = [str(self.lake.local_path(key)) for key in fresh]
                    self._db.execute(
                        f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet("
                        f"{_sql_list(paths)})"
                    )
                if table == rollup_table("video_daily"):
                    self._refresh_video_totals(
                        stale, fresh_days=[d for d, key in wanted.items() if loaded.get(d) != key]
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._rollup_keys[table] = wanted
        self._manifest = manifest


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_list(paths: list[str]) -> str:
    """A SQL list literal of file paths the lake made (read_parquet takes no parameter here)."""
    return "[" + ", ".join(_quote(p) for p in paths) + "]"


def _sql_dates(days: list[date]) -> str:
    return "(" + ", ".join(f"DATE {_quote(d.isoformat())}" for d in days) + ")"


def open_analytics(services: Services) -> Analytics:
    """The query side of this process's lake (local files read in place, S3 through the cache)."""
    lake = Lake.from_settings(services.store, services.settings)
    return Analytics(lake, metadata=lambda: load_metadata(services))


def load_metadata(services: Services) -> Metadata:
    """The videos and users relations from the metadata database."""
    from sqlalchemy import select

    from core.auth import User
    from ingest import Video

    with services.db.session() as session:
        videos = session.execute(
            select(
                Video.id,
                Video.creator_id,
                Video.caption,
                Video.hashtags,
                Video.sound_name,
                Video.language,
                Video.region,
                Video.duration_s,
                Video.created_at,
                Video.state,
            )
        ).all()
        users = session.execute(
            select(User.id, User.name, User.country, User.language, User.created_at)
        ).all()
    return Metadata(
        videos=pa.Table.from_pylist(
            [
                {
                    "video_id": v[0],
                    "creator_id": v[1],
                    "caption": v[2],
                    "hashtags": list(v[3] or []),
                    "sound": v[4],
                    "language": v[5],
                    "region": v[6],
                    "duration_ms": round(v[7] * 1000) if v[7] is not None else None,
                    "created_at": v[8],
                    "state": v[9],
                }
                for v in videos
            ],
            schema=VIDEOS_SCHEMA,
        ),
        users=pa.Table.from_pylist(
            [
                {
                    "user_id": u[0],
                    "name": u[1],
                    "country": u[2],
                    "language": u[3],
                    "created_at": u[4],
                }
                for u in users
            ],
            schema=USERS_SCHEMA,
        ),
    )
