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

import re
import threading
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson

from analytics import ACCOUNT_EVENT_TYPES, EVENT_COLUMNS, EVENT_TYPES, PLATFORMS, VIDEO_EVENT_TYPES
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


def _millis(event: dict[str, Any], name: str, limit: int, *, required: bool) -> int | None:
    value = event.get(name)
    if value is None:
        if required:
            raise EventRejected("missing_field", name, f"{name} is required for this event type")
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


def _props(value: Any, limits: EventsSettings) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise EventRejected("wrong_type", "props", "props must be a JSON object")
    if len(value) > limits.max_props_keys:
        raise EventRejected(
            "too_large",
            "props",
            f"props has {len(value)} keys; the limit is {limits.max_props_keys}",
        )
    for key, item in value.items():
        if isinstance(item, dict | list):
            raise EventRejected(
                "wrong_type", f"props.{key}", "props values must be strings, numbers or booleans"
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


def _normalise(raw: Any, ctx: _Context) -> dict[str, Any]:
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
    ts = _timestamp(raw["ts"])
    ids = {name: _id(raw, name) for name in _ID_FIELDS}
    if ids["user_id"] is None and ids["device_id"] is None:
        raise EventRejected(
            "missing_field", "user_id", "user_id or device_id is required (who did it)"
        )
    if event_type in VIDEO_EVENT_TYPES and ids["video_id"] is None:
        raise EventRejected("missing_field", "video_id", f"video_id is required for {event_type}")
    if event_type in ACCOUNT_EVENT_TYPES and ids["target_user_id"] is None:
        raise EventRejected(
            "missing_field", "target_user_id", f"target_user_id is required for {event_type}"
        )
    region = _text(raw, "region", 2)
    if region is not None:
        region = region.upper()
        if region not in ctx.countries:
            raise EventRejected(
                "unknown_region",
                "region",
                f"region {region} is not an ISO 3166-1 alpha-2 country code",
            )
    language = _text(raw, "language", 35)
    if language is not None:
        language = _primary_language(language)
    platform = _text(raw, "platform", 16)
    if platform is not None:
        platform = platform.lower()
        if platform not in _PLATFORMS:
            raise EventRejected(
                "unknown_platform", "platform", f"platform must be one of {', '.join(PLATFORMS)}"
            )
    props = _props(raw.get("props"), ctx.limits)
    if event_type == "search":
        query = (raw.get("props") or {}).get("query")
        if not isinstance(query, str) or not query.strip() or len(query) > MAX_QUERY_CHARS:
            raise EventRejected(
                "missing_field",
                "props.query",
                f"a search event needs props.query, 1 to {MAX_QUERY_CHARS} characters",
            )
    client_ts = None
    clamped = False
    if ts > ctx.latest or ts < ctx.earliest:
        client_ts, ts, clamped = ts, ctx.received_at, True
    bot_reason = ctx.bot_agent
    return {
        "event_id": event_id,
        "event_type": event_type,
        "ts": ts,
        "client_ts": client_ts,
        "received_at": ctx.received_at,
        **ids,
        "region": region,
        "language": language,
        "platform": platform,
        "app_version": _text(raw, "app_version", MAX_APP_VERSION_CHARS),
        "watched_ms": _millis(raw, "watched_ms", MAX_WATCHED_MS, required=event_type == "watch"),
        "position_ms": _millis(raw, "position_ms", MAX_POSITION_MS, required=False),
        "props": props,
        "is_bot": bot_reason is not None,
        "bot_reason": bot_reason,
        "ts_clamped": clamped,
    }


def _minute(ts: datetime) -> int:
    return int(ts.timestamp()) // 60


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
    accepted: dict[bytes, dict[str, Any]] = {}
    per_minute: dict[tuple[str, int], int] = {}
    for index, raw in enumerate(items):
        try:
            event = _normalise(raw, ctx)
        except EventRejected as exc:
            batch.rejections.append(_rejection(index, raw, exc))
            continue
        if event["event_id"] in accepted:
            batch.duplicates += 1
            continue
        accepted[event["event_id"]] = event
        pair = (event["user_id"] or event["device_id"], _minute(event["ts"]))
        per_minute[pair] = per_minute.get(pair, 0) + 1
    events = list(accepted.values())
    columns = batch.columns = {name: [e[name] for e in events] for name in EVENT_COLUMNS}
    if per_minute:
        fast = rates.over_limit(per_minute)
        if fast:
            flags, reasons = columns["is_bot"], columns["bot_reason"]
            for row, event in enumerate(events):
                pair = (event["user_id"] or event["device_id"], _minute(event["ts"]))
                if pair in fast and not flags[row]:
                    flags[row] = True
                    reasons[row] = "rate"
    batch.clamped = sum(columns["ts_clamped"])
    batch.bots = sum(columns["is_bot"])
    return batch


def _rejection(index: int, raw: Any, exc: EventRejected) -> Rejection:
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

MESSAGE_FORMAT = 1
_TIME_COLUMNS = ("ts", "client_ts", "received_at")
#: A bus message stays well under the bus's 1 MiB limit; a bigger batch goes as several.
MAX_MESSAGE_EVENTS = 250


def _micros(value: datetime | None) -> int | None:
    if value is None:
        return None
    return (value - _EPOCH) // _MICROSECOND


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def encode_messages(batch: ValidatedBatch, *, batch_id: str) -> list[dict[str, Any]]:
    """The accepted events as ``events.accepted`` messages of columns (JSON-safe values)."""
    columns = batch.columns
    total = batch.accepted
    messages = []
    for part, start in enumerate(range(0, total, MAX_MESSAGE_EVENTS)):
        end = min(start + MAX_MESSAGE_EVENTS, total)
        encoded: dict[str, list[Any]] = {}
        for name in EVENT_COLUMNS:
            values = columns[name][start:end]
            if name == "event_id":
                encoded[name] = [value.hex() for value in values]
            elif name in _TIME_COLUMNS:
                encoded[name] = [_micros(value) for value in values]
            else:
                encoded[name] = values
        messages.append(
            {"format": MESSAGE_FORMAT, "batch_id": batch_id, "part": part, "columns": encoded}
        )
    return messages


def decode_message(payload: dict[str, Any]) -> dict[str, list[Any]]:
    """The columns of an ``events.accepted`` message, ids as bytes and times as micros.

    Raises InvalidInputError for a message in a format this version does not read.
    """
    if payload.get("format") != MESSAGE_FORMAT or not isinstance(payload.get("columns"), dict):
        raise InvalidInputError(
            f"events.accepted message of unknown format {payload.get('format')!r}",
            details={"field": "format", "expected": MESSAGE_FORMAT},
        )
    columns: dict[str, list[Any]] = dict(payload["columns"])
    missing = [name for name in EVENT_COLUMNS if name not in columns]
    if missing:
        raise InvalidInputError(
            f"events.accepted message lacks columns {', '.join(missing)}",
            details={"field": "columns", "missing": missing},
        )
    columns["event_id"] = [bytes.fromhex(value) for value in columns["event_id"]]
    return columns


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
