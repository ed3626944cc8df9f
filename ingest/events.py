"""Engagement events from apps: parsing a batch, validating each event, flagging, encoding.

A batch is refused whole only when it cannot be read at all (not JSON, too big, too many
events). Otherwise every event stands alone: a valid one is accepted whatever its neighbours
are, an invalid one is rejected with its index, a reason code, the field and a message.

Accepted events are normalised (UUID bytes, UTC times, upper-case region, primary language
subtag) and flagged, never dropped: a client time too far in the future or the past is clamped
to the arrival time (``ts_clamped``, the original kept as ``client_ts``); a bot user agent or an
impossible rate marks the event ``is_bot`` with the reason. The result is columnar, the shape
the lake sink turns into Parquet without touching events one by one again.
"""

from __future__ import annotations

import base64
import re
import threading
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal

import msgspec
import orjson
import pyarrow as pa

from analytics import (
    ACCOUNT_EVENT_TYPES,
    EVENT_COLUMNS,
    EVENT_SCHEMA,
    EVENT_TYPES,
    PLATFORMS,
    UTC_MICROS,
    VIDEO_EVENT_TYPES,
)
from core.errors import InvalidInputError, TooLargeError, UnsupportedMediaError
from core.settings import EventsSettings
from localization import country_codes

#: Fields a client may send; everything the lake stores that the server sets is absent.
CLIENT_FIELDS: frozenset[str] = frozenset(
    {
        "event_id",
        "event_type",
        "ts",
        "user_id",
        "device_id",
        "session_id",
        "video_id",
        "target_user_id",
        "region",
        "language",
        "platform",
        "app_version",
        "watched_ms",
        "position_ms",
        "props",
    }
)
_ID_FIELDS = ("user_id", "device_id", "session_id", "video_id", "target_user_id")
MAX_ID_CHARS = 64
MAX_APP_VERSION_CHARS = 32
MAX_QUERY_CHARS = 200
#: A span of watching longer than an hour is not a span any player reports.
MAX_WATCHED_MS = 3_600_000
MAX_POSITION_MS = 24 * 3_600_000
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")
_EVENT_TYPES = frozenset(EVENT_TYPES)
_PLATFORMS = frozenset(PLATFORMS)
_EPOCH_MS_MIN = 946_684_800_000  # 2000-01-01: smaller numbers are seconds or garbage
_EPOCH_MS_MAX = 253_402_300_799_999  # the end of year 9999, the last datetime Python has


class EventRejected(Exception):
    """One event is invalid: ``reason`` is a stable code, ``field`` the offending field."""

    def __init__(self, reason: str, field: str | None, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Rejection:
    index: int
    reason: str
    field: str | None
    message: str
    event_id: str | None
    raw: str

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "event_id": self.event_id,
            "reason": self.reason,
            "field": self.field,
            "message": self.message,
        }


@dataclass
class ValidatedBatch:
    """The accepted events as columns (EVENT_COLUMNS), and what was refused or flagged."""

    columns: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in EVENT_COLUMNS})
    rejections: list[Rejection] = field(default_factory=list)
    duplicates: int = 0
    clamped: int = 0
    bots: int = 0

    @property
    def accepted(self) -> int:
        return len(self.columns["event_id"])


# -- reading the body ------------------------------------------------------------------------


def read_batch(
    body: bytes, *, content_type: str | None, content_encoding: str | None, limits: EventsSettings
) -> list[Any]:
    """The batch's items: a JSON array, ``{"events": [...]}``, or NDJSON; gzip allowed.

    A JSON array whose events are all well-formed is decoded straight into typed events in
    one pass (the fast path); otherwise each item is a plain JSON value that ``validate_batch``
    checks field by field. Either way every item gets its own verdict.

    Raises TooLargeError (body or event count over the limit), UnsupportedMediaError (a type
    or encoding that is not JSON or gzip) or InvalidInputError (unreadable JSON).
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "gzip":
        body = _gunzip(body, limits.max_batch_bytes)
    elif encoding not in ("identity", ""):
        raise UnsupportedMediaError(
            f"Content-Encoding {encoding!r} is not accepted: send gzip or no encoding",
            details={"field": "Content-Encoding", "accepted": ["gzip", "identity"]},
        )
    if len(body) > limits.max_batch_bytes:
        raise _too_large_body(len(body), limits.max_batch_bytes)
    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    if media in (
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "application/jsonlines",
    ):
        items = _ndjson(body)
    elif media in ("application/json", "text/json"):
        try:
            items = _BATCH_DECODER.decode(body)
        except msgspec.MsgspecError:
            items = _json(body)
    else:
        raise UnsupportedMediaError(
            f"Content-Type {media!r} is not accepted: send application/json (an array of "
            "events) or application/x-ndjson (one event per line)",
            details={
                "field": "Content-Type",
                "accepted": ["application/json", "application/x-ndjson"],
            },
        )
    if len(items) > limits.max_batch_events:
        raise TooLargeError(
            f"the batch holds {len(items)} events; the limit is {limits.max_batch_events} "
            "(VIGIL_EVENTS__MAX_BATCH_EVENTS): split it",
            details={
                "events": len(items),
                "limit": limits.max_batch_events,
                "setting": "VIGIL_EVENTS__MAX_BATCH_EVENTS",
            },
        )
    if not items:
        raise InvalidInputError("the batch holds no events", details={"field": "body"})
    return items


def _too_large_body(size: int, limit: int) -> TooLargeError:
    return TooLargeError(
        f"the batch is over {limit} bytes (VIGIL_EVENTS__MAX_BATCH_BYTES, counted after "
        "gzip decompression): split it",
        details={"size": size, "limit": limit, "setting": "VIGIL_EVENTS__MAX_BATCH_BYTES"},
    )


def _gunzip(body: bytes, limit: int) -> bytes:
    # Decompress at most limit+1 bytes, so a small bomb cannot inflate into memory.
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidInputError(
            f"the body is not valid gzip: {exc}", details={"field": "Content-Encoding"}
        ) from None
    if len(out) > limit:
        raise _too_large_body(len(out), limit)
    if not inflater.eof:
        raise InvalidInputError("the gzip body is truncated", details={"field": "Content-Encoding"})
    return out


def _json(body: bytes) -> list[Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"the body is not JSON: {exc}", details={"field": "body"}) from None
    if isinstance(parsed, dict) and isinstance(parsed.get("events"), list):
        parsed = parsed["events"]
    if not isinstance(parsed, list):
        raise InvalidInputError(
            'the body must be a JSON array of events or {"events": [...]}',
            details={"field": "body"},
        )
    return parsed


def _ndjson(body: bytes) -> list[Any]:
    items: list[Any] = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            # One unreadable line is one rejected event, not a refused batch.
            items.append(_Unreadable(f"line {number} is not JSON: {exc}", line))
    return items


@dataclass(frozen=True)
class _Unreadable:
    message: str
    line: bytes


# -- one event -------------------------------------------------------------------------------


class RateWatch:
    """Events per actor per minute of event time, across batches (per process).

    Rates are counted by the events' own timestamps, not by arrival, so an app uploading a
    backlog after a day offline is not mistaken for a bot. At most ``capacity`` (actor, minute)
    counters are kept; past that the memory starts over, so a flood of distinct ids cannot grow
    it without bound (an actor over the rate is then flagged again within a minute).
    """

    def __init__(self, *, limit: int, capacity: int = 500_000) -> None:
        self.limit = limit
        self.capacity = capacity
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def over_limit(self, counts: dict[tuple[str, int], int]) -> set[tuple[str, int]]:
        """Add ``counts`` ((actor, minute) -> events in this batch); the pairs over the limit."""
        over: set[tuple[str, int]] = set()
        with self._lock:
            if len(self._counts) + len(counts) > self.capacity:
                self._counts = {}
            tracked = self._counts
            for pair, count in counts.items():
                total = tracked.get(pair, 0) + count
                tracked[pair] = total
                if total > self.limit:
                    over.add(pair)
        return over


def _text(event: dict[str, Any], name: str, limit: int) -> str | None:
    value = event.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise EventRejected("wrong_type", name, f"{name} must be a string")
    if not value or len(value) > limit:
        raise EventRejected(
            "bad_length", name, f"{name} must be 1 to {limit} characters, got {len(value)}"
        )
    return value


def _id(event: dict[str, Any], name: str) -> str | None:
    value = event.get(name)
    if value is None or (type(value) is str and 0 < len(value) <= MAX_ID_CHARS):
        return value
    return _text(event, name, MAX_ID_CHARS)  # raises the precise reason


def _uuid_bytes(value: Any) -> bytes:
    if not isinstance(value, str):
        raise EventRejected("missing_field", "event_id", "event_id (a UUID) is required")
    # The canonical 8-4-4-4-12 form is what clients send; uuid.UUID is the slow general path.
    if len(value) == 36 and value[8] == value[13] == value[18] == value[23] == "-":
        try:
            return bytes.fromhex(value.replace("-", ""))
        except ValueError:
            pass
    else:
        try:
            return uuid.UUID(value).bytes
        except ValueError:
            pass
    raise EventRejected("bad_uuid", "event_id", "event_id must be a UUID")


@lru_cache(maxsize=1024)
def _primary_language(tag: str) -> str:
    """``pt-BR`` -> ``pt``: the lake keeps the primary language subtag, lower case."""
    if not _LANGUAGE.match(tag):
        raise EventRejected(
            "bad_language", "language", "language must be a BCP 47 tag such as es or pt-BR"
        )
    return re.split(r"[-_]", tag, maxsplit=1)[0].lower()


def _millis(event: dict[str, Any], name: str, limit: int) -> int | None:
    value = event.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise EventRejected("wrong_type", name, f"{name} must be a whole number of milliseconds")
    if not 0 <= value <= limit:
        raise EventRejected("out_of_range", name, f"{name} must be between 0 and {limit}")
    return int(value)


def _timestamp(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise EventRejected(
                "bad_timestamp", "ts", "ts must be ISO 8601 with a zone, e.g. 2026-11-21T10:00:00Z"
            ) from None
        if parsed.tzinfo is None:
            raise EventRejected(
                "bad_timestamp", "ts", "ts has no time zone: add Z or an offset such as +01:00"
            )
        return parsed.astimezone(UTC)
    if isinstance(value, int) and not isinstance(value, bool) and value >= _EPOCH_MS_MIN:
        try:
            return datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, ValueError, OSError):
            pass
    raise EventRejected(
        "bad_timestamp",
        "ts",
        "ts must be an ISO 8601 string with a zone or milliseconds since 1970 (after 2000)",
    )


def _props_text(value: dict[str, Any] | None, limits: EventsSettings) -> str | None:
    if value is None:
        return None
    if len(value) > limits.max_props_keys:
        raise EventRejected(
            "too_large",
            "props",
            f"props has {len(value)} keys; the limit is {limits.max_props_keys}",
        )
    encoded = orjson.dumps(value)
    if len(encoded) > limits.max_props_bytes:
        raise EventRejected(
            "too_large",
            "props",
            f"props is {len(encoded)} bytes as JSON; the limit is {limits.max_props_bytes} "
            "(VIGIL_EVENTS__MAX_PROPS_BYTES)",
        )
    return encoded.decode()


@dataclass(frozen=True)
class _Context:
    received_at: datetime
    earliest: datetime
    latest: datetime
    bot_agent: str | None
    countries: frozenset[str]
    limits: EventsSettings


def _normalise(raw: Any, ctx: _Context) -> tuple[Any, ...]:
    """The slow path: one decoded JSON value, checked field by field with precise reasons."""
    if isinstance(raw, _Unreadable):
        raise EventRejected("not_json", None, raw.message)
    if not isinstance(raw, dict):
        raise EventRejected("not_an_object", None, "each event must be a JSON object")
    unknown = raw.keys() - CLIENT_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        raise EventRejected(
            "unknown_field", name, f"{name} is not an event field (see docs/events.md)"
        )
    event_id = _uuid_bytes(raw.get("event_id"))
    event_type = raw.get("event_type")
    if event_type not in _EVENT_TYPES:
        raise EventRejected(
            "unknown_event_type",
            "event_type",
            f"event_type must be one of {', '.join(EVENT_TYPES)}",
        )
    if "ts" not in raw:
        raise EventRejected("missing_field", "ts", "ts (the client's event time) is required")
    props = raw.get("props")
    if props is not None:
        if not isinstance(props, dict):
            raise EventRejected("wrong_type", "props", "props must be a JSON object")
        for key, item in props.items():
            if isinstance(item, dict | list):
                raise EventRejected(
                    "wrong_type",
                    f"props.{key}",
                    "props values must be strings, numbers or booleans",
                )
    return _complete(
        ctx,
        event_id=event_id,
        event_type=event_type,
        ts=_timestamp(raw["ts"]),
        ids=[_id(raw, name) for name in _ID_FIELDS],
        region=_text(raw, "region", 2),
        language=_text(raw, "language", 35),
        platform=_text(raw, "platform", 16),
        app_version=_text(raw, "app_version", MAX_APP_VERSION_CHARS),
        watched_ms=_millis(raw, "watched_ms", MAX_WATCHED_MS),
        position_ms=_millis(raw, "position_ms", MAX_POSITION_MS),
        props=props,
    )


def _complete(
    ctx: _Context,
    *,
    event_id: bytes,
    event_type: str,
    ts: datetime,
    ids: list[str | None],
    region: str | None,
    language: str | None,
    platform: str | None,
    app_version: str | None,
    watched_ms: int | None,
    position_ms: int | None,
    props: dict[str, Any] | None,
) -> tuple[Any, ...]:
    """The checks across fields and against tables, and the event as the lake stores it.

    Both paths end here with well-typed values, so an event gets the same verdict either way.
    """
    user_id, device_id, session_id, video_id, target_user_id = ids
    if user_id is None and device_id is None:
        raise EventRejected(
            "missing_field", "user_id", "user_id or device_id is required (who did it)"
        )
    if video_id is None and event_type in VIDEO_EVENT_TYPES:
        raise EventRejected("missing_field", "video_id", f"video_id is required for {event_type}")
    if target_user_id is None and event_type in ACCOUNT_EVENT_TYPES:
        raise EventRejected(
            "missing_field", "target_user_id", f"target_user_id is required for {event_type}"
        )
    if region is not None:
        region = region.upper()
        if region not in ctx.countries:
            raise EventRejected(
                "unknown_region",
                "region",
                f"region {region} is not an ISO 3166-1 alpha-2 country code",
            )
    if language is not None:
        language = _primary_language(language)
    if platform is not None:
        platform = platform.lower()
        if platform not in _PLATFORMS:
            raise EventRejected(
                "unknown_platform", "platform", f"platform must be one of {', '.join(PLATFORMS)}"
            )
    props_text = _props_text(props, ctx.limits)
    if event_type == "search":
        query = (props or {}).get("query")
        if not isinstance(query, str) or not query.strip() or len(query) > MAX_QUERY_CHARS:
            raise EventRejected(
                "missing_field",
                "props.query",
                f"a search event needs props.query, 1 to {MAX_QUERY_CHARS} characters",
            )
    if watched_ms is None and event_type == "watch":
        raise EventRejected("missing_field", "watched_ms", "watched_ms is required for watch")
    client_ts = None
    clamped = False
    if ts > ctx.latest or ts < ctx.earliest:
        client_ts, ts, clamped = ts, ctx.received_at, True
    # A tuple in EVENT_COLUMNS order: batches transpose rows into columns in one C call.
    return (
        event_id,
        event_type,
        ts,
        client_ts,
        ctx.received_at,
        user_id,
        device_id,
        session_id,
        video_id,
        target_user_id,
        region,
        language,
        platform,
        app_version,
        watched_ms,
        position_ms,
        props_text,
        ctx.bot_agent is not None,
        ctx.bot_agent,
        clamped,
    )


# -- the fast path: a whole clean batch typed in one C call -------------------------------------

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS)]
_Scalar = str | int | float | bool | None


class _TypedEvent(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """The shape the slow path checks field by field, as one msgspec type.

    It is never looser than the slow path: anything it refuses goes to the slow path, which
    names the reason; anything it accepts, the slow path would accept with the same values.
    """

    event_id: uuid.UUID
    event_type: Literal[
        "view_start", "watch", "complete", "like", "unlike", "share", "comment",
        "follow", "unfollow", "skip", "not_interested", "report", "search",
    ]  # fmt: skip
    ts: (
        Annotated[datetime, msgspec.Meta(tz=True)]
        | Annotated[int, msgspec.Meta(ge=_EPOCH_MS_MIN, le=_EPOCH_MS_MAX)]
    )
    user_id: _Id | None = None
    device_id: _Id | None = None
    session_id: _Id | None = None
    video_id: _Id | None = None
    target_user_id: _Id | None = None
    region: Annotated[str, msgspec.Meta(min_length=1, max_length=2)] | None = None
    language: Annotated[str, msgspec.Meta(min_length=1, max_length=35)] | None = None
    platform: Annotated[str, msgspec.Meta(min_length=1, max_length=16)] | None = None
    app_version: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_APP_VERSION_CHARS)] | None
    ) = None
    watched_ms: Annotated[int, msgspec.Meta(ge=0, le=MAX_WATCHED_MS)] | None = None
    position_ms: Annotated[int, msgspec.Meta(ge=0, le=MAX_POSITION_MS)] | None = None
    props: dict[str, _Scalar] | None = None


_BATCH_DECODER = msgspec.json.Decoder(list[_TypedEvent])


def _typed(event: _TypedEvent, ctx: _Context) -> tuple[Any, ...]:
    ts = event.ts
    return _complete(
        ctx,
        event_id=event.event_id.bytes,
        event_type=event.event_type,
        ts=ts.astimezone(UTC) if isinstance(ts, datetime) else _timestamp(ts),
        ids=[event.user_id, event.device_id, event.session_id, event.video_id,
             event.target_user_id],
        region=event.region,
        language=event.language,
        platform=event.platform,
        app_version=event.app_version,
        watched_ms=event.watched_ms,
        position_ms=event.position_ms,
        props=event.props,
    )  # fmt: skip


def _flag_fast_actors(columns: dict[str, list[Any]], rates: RateWatch) -> None:
    """Mark ``rate`` on the events of actors over the limit in a minute of event time."""
    actors = [
        user or device
        for user, device in zip(columns["user_id"], columns["device_id"], strict=True)
    ]
    minutes = [int(ts.timestamp()) // 60 for ts in columns["ts"]]
    per_minute: dict[tuple[str, int], int] = {}
    for pair in zip(actors, minutes, strict=True):
        per_minute[pair] = per_minute.get(pair, 0) + 1
    if not per_minute:
        return
    fast = rates.over_limit(per_minute)
    if fast:
        flags, reasons = columns["is_bot"], columns["bot_reason"]
        for row, pair in enumerate(zip(actors, minutes, strict=True)):
            if pair in fast and not flags[row]:
                flags[row] = True
                reasons[row] = "rate"


def validate_batch(
    items: list[Any],
    *,
    received_at: datetime,
    user_agent: str | None,
    limits: EventsSettings,
    rates: RateWatch,
) -> ValidatedBatch:
    """Validate every item on its own; flag clamped times and bots; drop in-batch repeats."""
    bot_agents = re.compile(limits.bot_user_agents, re.IGNORECASE)
    ctx = _Context(
        received_at=received_at,
        earliest=received_at - timedelta(days=limits.max_age_days),
        latest=received_at + timedelta(seconds=limits.max_future_seconds),
        bot_agent="user_agent" if user_agent and bot_agents.search(user_agent) else None,
        countries=country_codes(),
        limits=limits,
    )
    batch = ValidatedBatch()
    rows: list[tuple[Any, ...]] = []
    ids: set[bytes] = set()
    for index, raw in enumerate(items):
        try:
            row = _typed(raw, ctx) if type(raw) is _TypedEvent else _normalise(raw, ctx)
        except EventRejected as exc:
            batch.rejections.append(_rejection(index, raw, exc))
            continue
        if row[0] in ids:
            batch.duplicates += 1
            continue
        ids.add(row[0])
        rows.append(row)
    if rows:
        batch.columns = dict(zip(EVENT_COLUMNS, map(list, zip(*rows, strict=True)), strict=True))
    columns = batch.columns
    _flag_fast_actors(columns, rates)
    batch.clamped = sum(columns["ts_clamped"])
    batch.bots = sum(columns["is_bot"])
    return batch


def _rejection(index: int, raw: Any, exc: EventRejected) -> Rejection:
    if type(raw) is _TypedEvent:
        raw = msgspec.to_builtins(raw, str_keys=True)
    event_id = raw.get("event_id") if isinstance(raw, dict) else None
    if isinstance(raw, _Unreadable):
        text = raw.line.decode("utf-8", "replace")
    else:
        try:
            text = orjson.dumps(raw).decode()
        except TypeError:
            text = repr(raw)
    return Rejection(
        index=index,
        reason=exc.reason,
        field=exc.field,
        message=exc.message,
        event_id=event_id if isinstance(event_id, str) else None,
        raw=text[:4096],
    )


# -- the bus message ---------------------------------------------------------------------------

MESSAGE_FORMAT = 2
_ZSTD = pa.Codec("zstd", compression_level=1)
#: Rows per bus message: with the largest props allowed, a message stays under the bus's 1 MiB.
MAX_MESSAGE_EVENTS = 250


def _wall_utc(values: list[datetime | None]) -> list[datetime | None]:
    # pyarrow converts zone-aware datetimes 30x slower than naive ones taken as UTC.
    return [v.replace(tzinfo=None) if v is not None else None for v in values]


def batch_table(batch: ValidatedBatch) -> pa.Table:
    """The accepted events as an EVENT_SCHEMA table (pyarrow converts each column in C)."""
    columns = batch.columns
    arrays = []
    for f in EVENT_SCHEMA:
        values = columns[f.name]
        if f.type == UTC_MICROS:
            values = _wall_utc(values)
        arrays.append(pa.array(values, type=f.type))
    return pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)


def encode_messages(batch: ValidatedBatch, *, batch_id: str) -> list[dict[str, Any]]:
    """The accepted events as ``events.accepted`` messages: an Arrow IPC stream, compressed
    with zstd, as base64 text (the bus carries JSON)."""
    table = batch_table(batch)
    messages = []
    for part, start in enumerate(range(0, table.num_rows, MAX_MESSAGE_EVENTS)):
        rows = table.slice(start, MAX_MESSAGE_EVENTS)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, EVENT_SCHEMA) as writer:
            writer.write_table(rows)
        stream = sink.getvalue()
        # One zstd pass over the whole stream: IPC's own per-buffer compression costs 20x more.
        packed = _ZSTD.compress(stream, asbytes=True)
        messages.append(
            {
                "format": MESSAGE_FORMAT,
                "batch_id": batch_id,
                "part": part,
                "events": rows.num_rows,
                "size": stream.size,
                "arrow": base64.b64encode(packed).decode("ascii"),
            }
        )
    return messages


def decode_message(payload: dict[str, Any]) -> pa.Table:
    """The events of an ``events.accepted`` message as an EVENT_SCHEMA table.

    Raises InvalidInputError for a message in a format this version does not read.
    """
    if (
        payload.get("format") != MESSAGE_FORMAT
        or not isinstance(payload.get("arrow"), str)
        or not isinstance(payload.get("size"), int)
    ):
        raise InvalidInputError(
            f"events.accepted message of unknown format {payload.get('format')!r}",
            details={"field": "format", "expected": MESSAGE_FORMAT},
        )
    stream = _ZSTD.decompress(
        base64.b64decode(payload["arrow"]), decompressed_size=payload["size"], asbytes=True
    )
    table = pa.ipc.open_stream(stream).read_all()
    if table.schema != EVENT_SCHEMA:
        raise InvalidInputError(
            "events.accepted message has columns other than the lake's",
            details={"field": "arrow", "got": table.schema.names},
        )
    return table


# -- the documented contract -----------------------------------------------------------------


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one client event, as docs/events.md publishes it.

    It states what the validator above enforces; cross-field rules (video_id for video events,
    target_user_id for follows, props.query for searches, user_id or device_id) are ``if/then``
    clauses. Region codes are checked against ISO 3166-1 by the collector, not by the schema.
    """
    text_id = {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://vigil.example/schemas/event.json",
        "title": "Vigil engagement event",
        "type": "object",
        "additionalProperties": False,
        "required": ["event_id", "event_type", "ts"],
        "properties": {
            "event_id": {
                "type": "string",
                "format": "uuid",
                "description": "Made by the client once per event and kept across retries.",
            },
            "event_type": {"enum": list(EVENT_TYPES)},
            "ts": {
                "description": "When it happened on the device: ISO 8601 with a zone, or "
                "milliseconds since 1970.",
                "oneOf": [
                    {"type": "string", "format": "date-time"},
                    {"type": "integer", "minimum": _EPOCH_MS_MIN},
                ],
            },
            "user_id": {**text_id, "description": "The signed-in account."},
            "device_id": {**text_id, "description": "An anonymous viewer's install id."},
            "session_id": text_id,
            "video_id": text_id,
            "target_user_id": {**text_id, "description": "The account followed or unfollowed."},
            "region": {
                "type": "string",
                "pattern": "^[A-Za-z]{2}$",
                "description": "ISO 3166-1 alpha-2 country of the viewer.",
            },
            "language": {
                "type": "string",
                "maxLength": 35,
                "pattern": _LANGUAGE.pattern,
                "description": "BCP 47 tag of the app's language; the lake keeps the primary "
                "subtag.",
            },
            "platform": {
                "type": "string",
                "description": f"One of {', '.join(PLATFORMS)} (any case).",
            },
            "app_version": {"type": "string", "minLength": 1, "maxLength": MAX_APP_VERSION_CHARS},
            "watched_ms": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_WATCHED_MS,
                "description": "watch: milliseconds watched in this span.",
            },
            "position_ms": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_POSITION_MS,
                "description": "Playback position at the end of the span.",
            },
            "props": {
                "type": "object",
                "maxProperties": 32,
                "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
                "description": "Event-specific extras, at most VIGIL_EVENTS__MAX_PROPS_BYTES "
                "(2,048) bytes as compact JSON.",
            },
        },
        "anyOf": [{"required": ["user_id"]}, {"required": ["device_id"]}],
        "allOf": [
            {
                "if": {
                    "properties": {"event_type": {"enum": sorted(VIDEO_EVENT_TYPES)}},
                },
                "then": {"required": ["video_id"]},
            },
            {
                "if": {"properties": {"event_type": {"enum": sorted(ACCOUNT_EVENT_TYPES)}}},
                "then": {"required": ["target_user_id"]},
            },
            {
                "if": {"properties": {"event_type": {"const": "watch"}}},
                "then": {"required": ["watched_ms"]},
            },
            {
                "if": {"properties": {"event_type": {"const": "search"}}},
                "then": {
                    "required": ["props"],
                    "properties": {
                        "props": {
                            "required": ["query"],
                            "properties": {
                                "query": {
                                    "type": "string",
                                    "minLength": 1,
                                    "maxLength": MAX_QUERY_CHARS,
                                }
                            },
                        }
                    },
                },
            },
        ],
    }
