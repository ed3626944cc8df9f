"""The embedded bus: a durable log of topics in one SQLite file, shared by several processes.

Tables (all in the bus file, separate from the metadata database):

- ``bus_topics``: declared topics, dead-letter topics included.
- ``bus_messages``: the log. ``id`` is AUTOINCREMENT, so ids are never reused after a prune and
  ascend in commit order (SQLite has one writer at a time and assigns the id inside the write).
- ``bus_groups``: per (topic, group) cursor, the highest message id handed to the group.
- ``bus_inflight``: per (topic, group, message) deliveries not yet acknowledged: how many times it
  was delivered and when it becomes visible again, which is either the end of a consumer's lease
  (the consumer died or stalled) or the end of a retry backoff.

A consumer claims up to ``batch_size`` messages in one ``BEGIN IMMEDIATE`` transaction (new ones
past the cursor plus visible in-flight ones), renews the leases of what it holds every third of
``ack_wait`` while alive, deletes the in-flight rows of handled messages (the acknowledgement,
written in batches, always after the handler returned), and on failure schedules a retry or
moves the message to the dead-letter topic. Acknowledged messages stay in the log until
``prune``. Open one ``SqliteBus`` per process (a connection must not cross a fork).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from .base import (
    DEAD_LETTER_SUFFIX,
    HEADER_GROUP,
    HEADER_REPLAY_GROUP,
    Bus,
    DeadLetter,
    Handler,
    Message,
    RetryPolicy,
    TopicStats,
    check_group_name,
    check_topic_name,
    dead_letter_from_message,
    dead_letter_headers,
    dead_letter_topic,
    describe_error,
)
from .errors import BusUnavailableError, MessageTooLargeError, UnknownTopicError
from .metrics import GroupMeters, call_handler, group_meters, published_counter

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Same limit as a default NATS server, so code written against the embedded bus runs unchanged
#: against JetStream.
MAX_MESSAGE_BYTES = 1024 * 1024

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS bus_topics (
    name TEXT PRIMARY KEY,
    declared_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bus_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    key TEXT,
    payload TEXT NOT NULL,
    headers TEXT,
    published_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS bus_messages_by_topic ON bus_messages (topic, id);
CREATE TABLE IF NOT EXISTS bus_groups (
    topic TEXT NOT NULL,
    grp TEXT NOT NULL,
    cursor INTEGER NOT NULL,
    PRIMARY KEY (topic, grp)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bus_inflight (
    topic TEXT NOT NULL,
    grp TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    visible_at REAL NOT NULL,
    consumer TEXT,
    PRIMARY KEY (topic, grp, message_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bus_inflight_by_visibility ON bus_inflight (topic, grp, visible_at);
"""

# Idle consumers poll: start fast so a message published to a quiet topic is picked up within
# tens of milliseconds, back off so hundreds of idle consumers cost next to nothing.
_IDLE_MIN_SECONDS = 0.005
_IDLE_MAX_SECONDS = 0.2
# Acknowledgements are written in batches; a slow batch still flushes its finished ones this
# often, so lag figures stay current and a crash repeats little work.
_ACK_FLUSH_SECONDS = 0.1
# A writer holds the lock for milliseconds; waiting longer than this means something is wrong.
_BUSY_TIMEOUT_SECONDS = 10.0
_BUSY_FIRST_PAUSE_SECONDS = 0.001
_BUSY_MAX_PAUSE_SECONDS = 0.05


class _Claimed(NamedTuple):
    id: int
    key: str | None
    payload: str
    headers: str | None
    published_at: float
    attempt: int


def _replay_headers(dead_letter_headers: str | None) -> str | None:
    """A replayed dead letter is for the group that gave up on it; other groups skip it."""
    group = json.loads(dead_letter_headers).get(HEADER_GROUP) if dead_letter_headers else None
    return None if group is None else json.dumps({HEADER_REPLAY_GROUP: group})


def path_from_url(url: str) -> Path:
    """``sqlite:///relative.db`` or ``sqlite:////absolute.db`` (SQLAlchemy's convention)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix or ":memory:" in url:
        raise BusUnavailableError(
            f"bus URL {url!r} does not name a file: use sqlite:///PATH "
            "(the embedded bus is shared by processes, so it cannot live in memory)",
            details={"url": url},
        )
    return Path(url[len(prefix) :])


class SqliteBus(Bus):
    """A ``Bus`` over one SQLite file in WAL mode; see the module docstring."""

    def __init__(
        self,
        path: Path,
        *,
        retry: RetryPolicy,
        ack_wait_seconds: float,
        batch_size: int,
        threaded: bool = False,
    ) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self._retry = retry
        self._ack_wait = ack_wait_seconds
        self._batch_size = batch_size
        # Calls run inline on the event loop: each is tens of microseconds, a thread hop would
        # cost more than the work (bench/bus.py: 4x slower single publishes), and waits for
        # another process's lock are asyncio sleeps in _run. ``threaded=True`` puts the
        # connection on one dedicated thread instead.
        self._executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="vigil-bus-sqlite")
            if threaded
            else None
        )
        self._conn: sqlite3.Connection | None = None
        self._declared: set[str] = set()
        self._closed = False

    # -- plumbing ---------------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run one database operation; while another process holds the write lock, wait for it
        with ``asyncio.sleep`` (never blocking the event loop) and try again."""
        pause = _BUSY_FIRST_PAUSE_SECONDS
        deadline: float | None = None
        while True:
            try:
                if self._executor is None:
                    return fn(*args)
                return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    raise
                now = time.monotonic()
                deadline = deadline or now + _BUSY_TIMEOUT_SECONDS
                if now > deadline:
                    raise BusUnavailableError(
                        f"SQLite bus {self.path} stayed locked by another process for "
                        f"{_BUSY_TIMEOUT_SECONDS:.0f} s: {exc}",
                        details={"url": self.url},
                    ) from exc
            await asyncio.sleep(pause)
            pause = min(pause * 2, _BUSY_MAX_PAUSE_SECONDS)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise BusUnavailableError(
                f"SQLite bus {self.path} is not open; call `await open_bus(...)`",
                details={"url": self.url},
            )
        return self._conn

    def _open(self) -> None:
        if self._conn is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path,
            timeout=0,  # a locked database fails at once; _run waits without blocking the loop
            isolation_level=None,  # explicit BEGIN IMMEDIATE / COMMIT below
            check_same_thread=False,  # used from the one executor thread, or inline
        )
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL syncs at checkpoints, not at every commit: a committed message
            # survives any process crash; only a power loss can take back the last commits.
            conn.execute("PRAGMA synchronous=NORMAL")
            if conn.execute("PRAGMA user_version").fetchone()[0] < _SCHEMA_VERSION:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    async def open(self) -> SqliteBus:
        """Create the file and schema if needed; raise BusUnavailableError if it cannot."""
        try:
            await self._run(self._open)
            self._declared = set(await self._run(self._load_topics))
        except (sqlite3.Error, OSError) as exc:
            raise BusUnavailableError(
                f"SQLite bus {self.path} cannot be opened: {exc}", details={"url": self.url}
            ) from exc
        return self

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in a write transaction taken up front, so it never fails half-way on a
        lock upgrade; the busy timeout makes concurrent writers queue."""
        conn = self._db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on one consistent snapshot."""
        conn = self._db()
        conn.execute("BEGIN")
        try:
            return work(conn)
        finally:
            conn.execute("COMMIT")

    # -- topics -----------------------------------------------------------------------------

    def _load_topics(self) -> list[str]:
        return [row[0] for row in self._db().execute("SELECT name FROM bus_topics ORDER BY name")]

    def _declare(self, names: list[str]) -> None:
        now = time.time()
        self._write(
            lambda conn: conn.executemany(
                "INSERT OR IGNORE INTO bus_topics (name, declared_at) VALUES (?, ?)",
                [(name, now) for name in names],
            )
        )

    async def ensure_topics(self, topics: Iterable[str]) -> None:
        names: list[str] = []
        for topic in topics:
            check_topic_name(topic, declaring=True)
            names += [topic, dead_letter_topic(topic)]
        if not names:
            return
        await self._run(self._declare, names)
        self._declared.update(names)

    async def topics(self) -> list[str]:
        names = await self._run(self._load_topics)
        return [name for name in names if not name.endswith(DEAD_LETTER_SUFFIX)]

    async def _require_topic(self, topic: str) -> None:
        if topic in self._declared:
            return
        # Another process may have declared it since we last looked.
        self._declared = set(await self._run(self._load_topics))
        if topic not in self._declared:
            raise UnknownTopicError(topic, await self.topics())

    # -- publishing -------------------------------------------------------------------------

    @staticmethod
    def _encode(topic: str, message: dict[str, Any]) -> str:
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        # A character is at most 4 bytes in UTF-8: only long texts need the exact count.
        if len(text) * 4 > MAX_MESSAGE_BYTES:
            size = len(text.encode())
            if size > MAX_MESSAGE_BYTES:
                raise MessageTooLargeError(topic, size, MAX_MESSAGE_BYTES)
        return text

    def _append(self, topic: str, rows: list[tuple[str | None, str, str | None]]) -> list[int]:
        now = time.time()

        def work(conn: sqlite3.Connection) -> list[int]:
            conn.executemany(
                "INSERT INTO bus_messages (topic, key, payload, headers, published_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(topic, key, payload, headers, now) for key, payload, headers in rows],
            )
            # One writer at a time: the rows of this transaction have consecutive ids.
            last: int = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            return list(range(last - len(rows) + 1, last + 1))

        return self._write(work)

    async def publish(self, topic: str, message: dict[str, Any], *, key: str | None = None) -> str:
        await self._require_topic(topic)
        ids = await self._run(self._append, topic, [(key, self._encode(topic, message), None)])
        published_counter(topic).inc()
        return str(ids[0])

    async def publish_batch(
        self, topic: str, messages: Iterable[tuple[dict[str, Any], str | None]]
    ) -> list[str]:
        await self._require_topic(topic)
        rows = [(key, self._encode(topic, message), None) for message, key in messages]
        if not rows:
            return []
        ids = await self._run(self._append, topic, rows)
        published_counter(topic).inc(len(ids))
        return [str(i) for i in ids]

    # -- consuming --------------------------------------------------------------------------

    def _join_group(self, topic: str, group: str) -> None:
        # A new group starts at the beginning of the log, like a JetStream consumer with
        # DeliverPolicy.ALL: messages published before the first consumer started are not lost.
        self._write(
            lambda conn: conn.execute(
                "INSERT OR IGNORE INTO bus_groups (topic, grp, cursor) VALUES (?, ?, 0)",
                (topic, group),
            )
        )

    def _has_work(self, topic: str, group: str, now: float) -> tuple[bool, float | None]:
        """Read-only check, so idle polls never take the write lock: (work now?, next due)."""
        row = (
            self._db()
            .execute(
                "SELECT (SELECT max(id) FROM bus_messages WHERE topic = ?) > "
                "(SELECT cursor FROM bus_groups WHERE topic = ? AND grp = ?), "
                "(SELECT min(visible_at) FROM bus_inflight WHERE topic = ? AND grp = ?)",
                (topic, topic, group, topic, group),
            )
            .fetchone()
        )
        new, next_due = bool(row[0]), row[1]
        return new or (next_due is not None and next_due <= now), next_due

    def _claim(
        self, topic: str, group: str, consumer: str, acks: Sequence[int], limit: int
    ) -> tuple[list[_Claimed], float | None]:
        """Write ``acks``, then lease up to ``limit`` messages: (claimed, next visible time)."""
        now = time.time()
        if not acks:
            ready, next_due = self._has_work(topic, group, now)
            if not ready:
                return [], next_due
        lease_until = now + self._ack_wait

        def work(conn: sqlite3.Connection) -> tuple[list[_Claimed], float | None]:
            if acks:
                conn.executemany(
                    "DELETE FROM bus_inflight WHERE topic = ? AND grp = ? AND message_id = ?",
                    [(topic, group, message_id) for message_id in acks],
                )
            due = conn.execute(
                "SELECT message_id, attempts FROM bus_inflight "
                "WHERE topic = ? AND grp = ? AND visible_at <= ? "
                "ORDER BY visible_at, message_id LIMIT ?",
                (topic, group, now, limit),
            ).fetchall()
            claimed: list[_Claimed] = []
            if due:
                conn.executemany(
                    "UPDATE bus_inflight SET attempts = attempts + 1, visible_at = ?, "
                    "consumer = ? WHERE topic = ? AND grp = ? AND message_id = ?",
                    [(lease_until, consumer, topic, group, message_id) for message_id, _ in due],
                )
                attempts = {message_id: count + 1 for message_id, count in due}
                marks = ",".join("?" * len(due))
                query = f"SELECT id, key, payload, headers, published_at FROM bus_messages WHERE id IN ({marks}) ORDER BY id"  # noqa: E501, S608 - only placeholders are interpolated
                for message_id, key, payload, headers, published_at in conn.execute(
                    query, list(attempts)
                ):
                    claimed.append(
                        _Claimed(
                            message_id,
                            key,
                            payload,
                            headers,
                            published_at,
                            attempts.pop(message_id),
                        )
                    )
                if attempts:  # their messages were deleted (a replayed dead letter): drop them
                    conn.executemany(
                        "DELETE FROM bus_inflight WHERE topic = ? AND grp = ? AND message_id = ?",
                        [(topic, group, message_id) for message_id in attempts],
                    )
            room = limit - len(due)
            if room > 0:
                (cursor,) = conn.execute(
                    "SELECT cursor FROM bus_groups WHERE topic = ? AND grp = ?", (topic, group)
                ).fetchone()
                fresh = conn.execute(
                    "SELECT id, key, payload, headers, published_at FROM bus_messages "
                    "WHERE topic = ? AND id > ? ORDER BY id LIMIT ?",
                    (topic, cursor, room),
                ).fetchall()
                if fresh:
                    conn.executemany(
                        "INSERT INTO bus_inflight "
                        "(topic, grp, message_id, attempts, visible_at, consumer) "
                        "VALUES (?, ?, ?, 1, ?, ?)",
                        [(topic, group, row[0], lease_until, consumer) for row in fresh],
                    )
                    conn.execute(
                        "UPDATE bus_groups SET cursor = ? WHERE topic = ? AND grp = ?",
                        (fresh[-1][0], topic, group),
                    )
                    claimed += [_Claimed(i, k, p, h, at, 1) for i, k, p, h, at in fresh]
            next_due = None
            if not claimed:
                next_due = conn.execute(
                    "SELECT min(visible_at) FROM bus_inflight WHERE topic = ? AND grp = ?",
                    (topic, group),
                ).fetchone()[0]
            return claimed, next_due

        return self._write(work)

    def _ack(self, topic: str, group: str, acks: Sequence[int]) -> None:
        self._write(
            lambda conn: conn.executemany(
                "DELETE FROM bus_inflight WHERE topic = ? AND grp = ? AND message_id = ?",
                [(topic, group, message_id) for message_id in acks],
            )
        )

    def _extend_leases(
        self, topic: str, group: str, consumer: str, ids: Sequence[int], until: float
    ) -> None:
        # Only leases this consumer still holds: one that expired and was taken over belongs to
        # the new holder.
        self._write(
            lambda conn: conn.executemany(
                "UPDATE bus_inflight SET visible_at = ? "
                "WHERE topic = ? AND grp = ? AND message_id = ? AND consumer = ?",
                [(until, topic, group, message_id, consumer) for message_id in ids],
            )
        )

    def _release(
        self, topic: str, group: str, consumer: str, acks: Sequence[int], unstarted: Sequence[int]
    ) -> None:
        """On stop: write the last acks; hand back claimed messages no handler saw yet, without
        counting that claim as a delivery."""

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "DELETE FROM bus_inflight WHERE topic = ? AND grp = ? AND message_id = ?",
                [(topic, group, message_id) for message_id in acks],
            )
            conn.executemany(
                "UPDATE bus_inflight SET attempts = attempts - 1, visible_at = 0, consumer = NULL "
                "WHERE topic = ? AND grp = ? AND message_id = ? AND consumer = ?",
                [(topic, group, message_id, consumer) for message_id in unstarted],
            )

        self._write(work)

    def _fail(
        self,
        topic: str,
        group: str,
        consumer: str,
        claimed: _Claimed,
        error: str,
        force_dead: bool,
    ) -> str:
        """Schedule a retry or dead-letter; returns "retry", "dead" or "lost" (lease taken over)."""
        now = time.time()

        def work(conn: sqlite3.Connection) -> str:
            holder = conn.execute(
                "SELECT consumer FROM bus_inflight WHERE topic = ? AND grp = ? AND message_id = ?",
                (topic, group, claimed.id),
            ).fetchone()
            if holder is None or holder[0] != consumer:
                return "lost"
            if force_dead or claimed.attempt >= self._retry.max_attempts:
                headers = dead_letter_headers(
                    topic=topic,
                    group=group,
                    error=error,
                    attempts=claimed.attempt,
                    failed_at=now,
                )
                conn.execute(
                    "INSERT INTO bus_messages (topic, key, payload, headers, published_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        dead_letter_topic(topic),
                        claimed.key,
                        claimed.payload,
                        json.dumps(headers),
                        now,
                    ),
                )
                conn.execute(
                    "DELETE FROM bus_inflight WHERE topic = ? AND grp = ? AND message_id = ?",
                    (topic, group, claimed.id),
                )
                return "dead"
            conn.execute(
                "UPDATE bus_inflight SET visible_at = ?, consumer = NULL "
                "WHERE topic = ? AND grp = ? AND message_id = ?",
                (now + self._retry.delay(claimed.attempt), topic, group, claimed.id),
            )
            return "retry"

        return self._write(work)

    async def _keep_leases(self, topic: str, group: str, consumer: str, held: set[int]) -> None:
        """Heartbeat: a slow but alive consumer keeps what it holds past ``ack_wait``."""
        interval = self._ack_wait / 3
        while True:
            await asyncio.sleep(interval)
            if held:
                until = time.time() + self._ack_wait
                await self._run(self._extend_leases, topic, group, consumer, list(held), until)

    async def _deliver(
        self,
        topic: str,
        group: str,
        consumer: str,
        handler: Handler,
        claimed: _Claimed,
        meters: GroupMeters,
    ) -> bool:
        """Hand one claimed message to ``handler``; True when it is to be acknowledged."""
        headers: dict[str, str] = json.loads(claimed.headers) if claimed.headers else {}
        replay_group = headers.get(HEADER_REPLAY_GROUP)
        if replay_group is not None and replay_group != group:
            return True  # a dead letter replayed for another group: not ours to handle again
        if claimed.attempt > self._retry.max_attempts:
            error = (
                f"not acknowledged after {claimed.attempt - 1} deliveries "
                f"(the consumer died or stalled past ack_wait={self._ack_wait}s each time)"
            )
            outcome = await self._run(self._fail, topic, group, consumer, claimed, error, True)
        else:
            message = Message(
                topic=topic,
                id=str(claimed.id),
                payload=json.loads(claimed.payload),
                key=claimed.key,
                attempt=claimed.attempt,
                published_at=claimed.published_at,
                headers=headers,
            )
            exc = await call_handler(handler, message, meters)
            if exc is None:
                return True
            error = describe_error(exc)
            outcome = await self._run(self._fail, topic, group, consumer, claimed, error, False)
        if outcome == "dead":
            meters.dead_lettered.inc()
            published_counter(dead_letter_topic(topic)).inc()
            log.error(
                "bus: %s[%s] message %s dead-lettered after %d attempts: %s",
                topic,
                group,
                claimed.id,
                claimed.attempt,
                error,
            )
        else:
            log.warning(
                "bus: %s[%s] message %s attempt %d failed (%s): %s",
                topic,
                group,
                claimed.id,
                claimed.attempt,
                "retry scheduled" if outcome == "retry" else "lease lost to another consumer",
                error,
            )
        return False

    async def consume(
        self, topic: str, group: str, handler: Handler, *, stop: asyncio.Event
    ) -> None:
        check_group_name(group)
        await self._require_topic(topic)
        await self._run(self._join_group, topic, group)
        consumer = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        meters = group_meters(topic, group)
        held: set[int] = set()  # leased by this consumer and not yet settled in the database
        acks: list[int] = []
        unstarted: list[int] = []
        keeper = asyncio.create_task(self._keep_leases(topic, group, consumer, held))
        idle = _IDLE_MIN_SECONDS
        try:
            while not stop.is_set():
                claimed, next_due = await self._run(
                    self._claim, topic, group, consumer, tuple(acks), self._batch_size
                )
                held.difference_update(acks)
                acks.clear()
                if not claimed:
                    delay = idle
                    if next_due is not None:  # a retry falls due: wake up for it exactly
                        delay = max(0.0, min(delay, next_due - time.time()))
                    idle = min(idle * 2, _IDLE_MAX_SECONDS)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                    continue
                idle = _IDLE_MIN_SECONDS
                held.update(item.id for item in claimed)
                flushed_at = time.monotonic()
                for index, item in enumerate(claimed):
                    if stop.is_set():
                        unstarted = [later.id for later in claimed[index:]]
                        break
                    if await self._deliver(topic, group, consumer, handler, item, meters):
                        acks.append(item.id)
                    else:
                        held.discard(item.id)
                    if acks and time.monotonic() - flushed_at > _ACK_FLUSH_SECONDS:
                        await self._run(self._ack, topic, group, tuple(acks))
                        held.difference_update(acks)
                        acks.clear()
                        flushed_at = time.monotonic()
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            if acks or unstarted:
                await self._run(self._release, topic, group, consumer, tuple(acks), unstarted)

    # -- inspection -------------------------------------------------------------------------

    def _stats(self, topic: str) -> TopicStats:
        def work(conn: sqlite3.Connection) -> TopicStats:
            (messages,) = conn.execute(
                "SELECT count(*) FROM bus_messages WHERE topic = ?", (topic,)
            ).fetchone()
            groups: dict[str, int] = {}
            for group, cursor in conn.execute(
                "SELECT grp, cursor FROM bus_groups WHERE topic = ? ORDER BY grp", (topic,)
            ).fetchall():
                (waiting,) = conn.execute(
                    "SELECT count(*) FROM bus_messages WHERE topic = ? AND id > ?",
                    (topic, cursor),
                ).fetchone()
                (in_flight,) = conn.execute(
                    "SELECT count(*) FROM bus_inflight WHERE topic = ? AND grp = ?",
                    (topic, group),
                ).fetchone()
                groups[group] = waiting + in_flight
            return TopicStats(topic=topic, messages=messages, groups=groups)

        return self._read(work)

    async def stats(self, topic: str) -> TopicStats:
        await self._require_topic(topic)
        return await self._run(self._stats, topic)

    def _dead_rows(
        self, topic: str, limit: int | None, ids: Sequence[int] | None
    ) -> list[tuple[int, str | None, str, str | None]]:
        query = "SELECT id, key, payload, headers FROM bus_messages WHERE topic = ?"
        params: list[Any] = [dead_letter_topic(topic)]
        if ids is not None:
            query += f" AND id IN ({','.join('?' * len(ids))})"
            params += ids
        query += " ORDER BY id"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        return self._db().execute(query, params).fetchall()

    async def dead_letters(self, topic: str, *, limit: int = 100) -> list[DeadLetter]:
        await self._require_topic(topic)
        rows = await self._run(self._dead_rows, topic, limit, None)
        return [
            dead_letter_from_message(
                id=str(message_id),
                payload=json.loads(payload),
                key=key,
                headers=json.loads(headers) if headers else {},
            )
            for message_id, key, payload, headers in rows
        ]

    def _replay(self, topic: str, ids: Sequence[int] | None) -> int:
        def work(conn: sqlite3.Connection) -> int:
            rows = self._dead_rows(topic, None, ids)
            if not rows:
                return 0
            now = time.time()
            conn.executemany(
                "INSERT INTO bus_messages (topic, key, payload, headers, published_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        topic,
                        key,
                        payload,
                        _replay_headers(headers),
                        now,
                    )
                    for _, key, payload, headers in rows
                ],
            )
            conn.executemany("DELETE FROM bus_messages WHERE id = ?", [(row[0],) for row in rows])
            return len(rows)

        return self._write(work)

    async def replay_dead_letters(self, topic: str, *, ids: Iterable[str] | None = None) -> int:
        await self._require_topic(topic)
        wanted = None if ids is None else [int(i) for i in ids if i.isdigit()]
        if wanted == []:
            return 0
        count = await self._run(self._replay, topic, wanted)
        if count:
            published_counter(topic).inc(count)
        return count

    def _prune(self, cutoff: float) -> int:
        def work(conn: sqlite3.Connection) -> int:
            deleted = 0
            floors = conn.execute(
                "SELECT topic, min(cursor) FROM bus_groups GROUP BY topic"
            ).fetchall()
            for topic, floor in floors:
                if topic.endswith(DEAD_LETTER_SUFFIX):
                    continue  # dead letters stay until replayed, whoever reads them
                deleted += conn.execute(
                    "DELETE FROM bus_messages WHERE topic = ? AND id <= ? AND published_at < ? "
                    "AND id NOT IN (SELECT message_id FROM bus_inflight WHERE topic = ?)",
                    (topic, floor, cutoff, topic),
                ).rowcount
            return deleted

        return self._write(work)

    async def prune(self, older_than_seconds: float) -> int:
        """Delete messages older than this that every group of their topic has acknowledged.

        Topics without groups and dead letters are kept. Returns how many were deleted.
        """
        return await self._run(self._prune, time.time() - older_than_seconds)

    async def ping(self) -> None:
        try:
            await self._run(lambda: self._db().execute("SELECT 1").fetchone())
        except sqlite3.Error as exc:
            raise BusUnavailableError(
                f"SQLite bus {self.path} does not answer: {exc}", details={"url": self.url}
            ) from exc

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await self._run(shut)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
