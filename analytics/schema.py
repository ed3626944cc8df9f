"""The engagement event: its types, its fields, and its columns in the lake.

One definition serves the collector (what a client may send), the lake (the Parquet schema) and
docs/events.md (the JSON Schema is generated from here). Times are UTC; an event's date is the
UTC date of its effective timestamp ``ts``.
"""

from __future__ import annotations

from enum import StrEnum

import pyarrow as pa


class EventType(StrEnum):
    VIEW_START = "view_start"
    WATCH = "watch"
    COMPLETE = "complete"
    LIKE = "like"
    UNLIKE = "unlike"
    SHARE = "share"
    COMMENT = "comment"
    FOLLOW = "follow"
    UNFOLLOW = "unfollow"
    SKIP = "skip"
    NOT_INTERESTED = "not_interested"
    REPORT = "report"
    SEARCH = "search"


EVENT_TYPES: tuple[str, ...] = tuple(t.value for t in EventType)

#: Types that happen to one video: ``video_id`` is required.
VIDEO_EVENT_TYPES: frozenset[str] = frozenset(
    {
        EventType.VIEW_START,
        EventType.WATCH,
        EventType.COMPLETE,
        EventType.LIKE,
        EventType.UNLIKE,
        EventType.SHARE,
        EventType.COMMENT,
        EventType.SKIP,
        EventType.NOT_INTERESTED,
        EventType.REPORT,
    }
)
#: Types about another account: ``target_user_id`` is required.
ACCOUNT_EVENT_TYPES: frozenset[str] = frozenset({EventType.FOLLOW, EventType.UNFOLLOW})

PLATFORMS: tuple[str, ...] = ("ios", "android", "web", "tv", "other")

UTC_MICROS = pa.timestamp("us", tz="UTC")

#: Columns of every Parquet file under ``events/``; ``event_date`` is the Hive partition key
#: (``events/event_date=YYYY-MM-DD/``) and is not stored inside the files.
EVENT_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.binary(16), nullable=False),  # the client's UUID, 16 raw bytes
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("ts", UTC_MICROS, nullable=False),  # effective time: the client's, or clamped
        pa.field("client_ts", UTC_MICROS),  # the client's own time, kept only when it was clamped
        pa.field("received_at", UTC_MICROS, nullable=False),
        pa.field("user_id", pa.string()),
        pa.field("device_id", pa.string()),
        pa.field("session_id", pa.string()),
        pa.field("video_id", pa.string()),
        pa.field("target_user_id", pa.string()),
        pa.field("region", pa.string()),  # ISO 3166-1 alpha-2, upper case
        pa.field("language", pa.string()),  # ISO 639-1 primary subtag, lower case
        pa.field("platform", pa.string()),
        pa.field("app_version", pa.string()),
        pa.field("watched_ms", pa.int32()),
        pa.field("position_ms", pa.int32()),
        pa.field("props", pa.string()),  # JSON object text
        pa.field("is_bot", pa.bool_(), nullable=False),
        pa.field("bot_reason", pa.string()),
        pa.field("ts_clamped", pa.bool_(), nullable=False),
    ]
)
EVENT_COLUMNS: tuple[str, ...] = tuple(EVENT_SCHEMA.names)

#: What the lake's event files hold: the event columns, plus ``actor_key``, the lower 64 bits
#: of the MD5 of the actor (the user id, or the device id of an anonymous viewer). Counting and
#: joining actors on a 64-bit integer is several times faster than on text, and MD5 is the same
#: in every engine, so keys written today match keys written by any later version (the chance
#: of two actors sharing a key is about 1 in 10^11 for ten million actors).
LAKE_SCHEMA = EVENT_SCHEMA.append(pa.field("actor_key", pa.uint64(), nullable=False))
#: SQL for the actor of an event (the user, or an anonymous viewer's device) and its key.
ACTOR_ID_SQL = "coalesce(user_id, device_id)"
ACTOR_KEY_SQL = f"md5_number_lower({ACTOR_ID_SQL})"
