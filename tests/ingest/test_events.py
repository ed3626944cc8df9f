"""The collector's reading and validation of event batches, event by event."""

from __future__ import annotations

import gzip
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from core.errors import InvalidInputError, TooLargeError, UnsupportedMediaError
from core.settings import EventsSettings
from ingest.events import (
    RateWatch,
    decode_message,
    encode_messages,
    read_batch,
    validate_batch,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
LIMITS = EventsSettings()


def event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_type": "view_start",
        "ts": "2026-11-21T11:59:00Z",
        "user_id": "u1",
        "session_id": "s1",
        "video_id": "v1",
        "region": "es",
        "language": "es-ES",
        "platform": "Android",
        "app_version": "4.1.0",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def validate(items: list[Any], *, user_agent: str = "VigilApp/4.1", limit: int = 600):
    return validate_batch(
        items,
        received_at=NOW,
        user_agent=user_agent,
        limits=LIMITS,
        rates=RateWatch(limit=limit),
    )


def test_valid_events_are_normalised_into_columns() -> None:
    first = event()
    watch = event(event_type="watch", watched_ms=4200, position_ms=9100)
    batch = validate([first, watch])
    assert batch.accepted == 2
    assert not batch.rejections
    cols = batch.columns
    assert cols["event_id"][0] == uuid.UUID(first["event_id"]).bytes
    assert cols["region"] == ["ES", "ES"]
    assert cols["language"] == ["es", "es"]
    assert cols["platform"] == ["android", "android"]
    assert cols["ts"][0] == datetime(2026, 11, 21, 11, 59, tzinfo=UTC)
    assert cols["received_at"] == [NOW, NOW]
    assert cols["watched_ms"] == [None, 4200]
    assert cols["ts_clamped"] == [False, False]
    assert cols["is_bot"] == [False, False]


@pytest.mark.parametrize(
    ("fields", "reason", "field"),
    [
        ({"event_id": None}, "missing_field", "event_id"),
        ({"event_id": "not-a-uuid"}, "bad_uuid", "event_id"),
        ({"event_type": "teleport"}, "unknown_event_type", "event_type"),
        ({"ts": None}, "missing_field", "ts"),
        ({"ts": "yesterday"}, "bad_timestamp", "ts"),
        ({"ts": "2026-11-21T11:59:00"}, "bad_timestamp", "ts"),  # no zone
        ({"ts": 12}, "bad_timestamp", "ts"),  # seconds or garbage, not epoch ms
        ({"user_id": None}, "missing_field", "user_id"),
        ({"video_id": None}, "missing_field", "video_id"),
        ({"event_type": "follow", "video_id": None}, "missing_field", "target_user_id"),
        ({"event_type": "watch"}, "missing_field", "watched_ms"),
        ({"event_type": "watch", "watched_ms": -1}, "out_of_range", "watched_ms"),
        ({"event_type": "watch", "watched_ms": "5"}, "wrong_type", "watched_ms"),
        ({"region": "XX"}, "unknown_region", "region"),
        ({"region": "ESP"}, "bad_length", "region"),
        ({"language": "spanish!"}, "bad_language", "language"),
        ({"platform": "fridge"}, "unknown_platform", "platform"),
        ({"user_id": "u" * 65}, "bad_length", "user_id"),
        ({"session_id": 7}, "wrong_type", "session_id"),
        ({"props": [1]}, "wrong_type", "props"),
        ({"props": {"nested": {"a": 1}}}, "wrong_type", "props.nested"),
        ({"props": {"k": "x" * 3000}}, "too_large", "props"),
        ({"regoin": "ES"}, "unknown_field", "regoin"),
        ({"event_type": "search", "video_id": None}, "missing_field", "props.query"),
    ],
)
def test_each_invalid_event_is_rejected_with_its_reason_and_field(
    fields: dict[str, Any], reason: str, field: str
) -> None:
    good = event()
    bad = event(**fields)
    batch = validate([good, bad, event()])
    assert batch.accepted == 2, "the valid neighbours are accepted"
    [rejection] = batch.rejections
    assert (rejection.index, rejection.reason, rejection.field) == (1, reason, field)
    assert field.split(".")[0] in rejection.message or rejection.reason in ("bad_timestamp",)
    assert rejection.raw.startswith("{")


def test_non_objects_are_rejected_with_their_index() -> None:
    batch = validate([42, event(), "text", None])
    assert batch.accepted == 1
    assert [(r.index, r.reason) for r in batch.rejections] == [
        (0, "not_an_object"),
        (2, "not_an_object"),
        (3, "not_an_object"),
    ]


def test_times_too_far_ahead_or_behind_are_clamped_and_flagged() -> None:
    ahead = event(ts=(NOW + timedelta(hours=2)).isoformat())
    behind = event(ts=(NOW - timedelta(days=45)).isoformat())
    late_but_fine = event(ts=(NOW - timedelta(days=3)).isoformat())
    epoch_ms = event(ts=int((NOW - timedelta(minutes=5)).timestamp() * 1000))
    batch = validate([ahead, behind, late_but_fine, epoch_ms])
    cols = batch.columns
    assert cols["ts_clamped"] == [True, True, False, False]
    assert cols["ts"][:2] == [NOW, NOW]
    assert cols["client_ts"][0] == NOW + timedelta(hours=2)
    assert cols["client_ts"][1] == NOW - timedelta(days=45)
    assert cols["ts"][2] == NOW - timedelta(days=3), "late events keep their own date"
    assert cols["ts"][3] == NOW - timedelta(minutes=5)
    assert cols["client_ts"][2:] == [None, None]
    assert batch.clamped == 2


def test_bot_user_agents_are_flagged_not_dropped() -> None:
    batch = validate([event(), event()], user_agent="Mozilla/5.0 (compatible; Googlebot/2.1)")
    assert batch.accepted == 2
    assert batch.bots == 2
    assert batch.columns["bot_reason"] == ["user_agent", "user_agent"]
    human = validate([event()], user_agent="VigilApp/4.1 (iPhone; iOS 18)")
    assert human.bots == 0


def test_an_actor_over_the_rate_is_flagged_across_batches() -> None:
    rates = RateWatch(limit=5)
    kwargs = {"received_at": NOW, "user_agent": "VigilApp", "limits": LIMITS, "rates": rates}
    minute = "2026-11-21T11:58:{:02d}Z"
    first = validate_batch([event(user_id="fast", ts=minute.format(n)) for n in range(4)], **kwargs)
    assert first.bots == 0
    second = validate_batch(
        [event(user_id="fast", ts=minute.format(10 + n)) for n in range(3)]
        + [event(user_id="calm", ts=minute.format(10))],
        **kwargs,
    )
    assert second.columns["is_bot"] == [True, True, True, False]
    assert second.columns["bot_reason"][:3] == ["rate"] * 3
    next_minute = validate_batch([event(user_id="fast", ts="2026-11-21T11:59:01Z")], **kwargs)
    assert next_minute.bots == 0, "counts are per minute of event time"


def test_a_backlog_spread_over_hours_is_not_a_bot() -> None:
    # An app that was offline uploads 3 hours of one viewer's events at once.
    backlog = [
        event(user_id="offline", ts=(NOW - timedelta(minutes=180 - n)).isoformat())
        for n in range(180)
    ]
    assert validate(backlog, limit=5).bots == 0


def test_repeats_of_an_event_id_inside_a_batch_count_once() -> None:
    same = event()
    batch = validate([same, dict(same), event()])
    assert batch.accepted == 2
    assert batch.duplicates == 1


def test_json_ndjson_and_gzip_bodies_give_the_same_events() -> None:
    items = [event(), event(event_type="watch", watched_ms=1500, props={"from": "feed"})]

    def read(body: bytes, content_type: str, encoding: str | None = None) -> list[Any]:
        return read_batch(body, content_type=content_type, content_encoding=encoding, limits=LIMITS)

    as_json = validate(read(orjson.dumps(items), "application/json"))
    wrapped = validate(read(orjson.dumps({"events": items}), "application/json; charset=utf-8"))
    lines = b"\n".join(orjson.dumps(i) for i in items) + b"\n{broken\n\n"
    as_ndjson = validate(read(gzip.compress(lines), "application/x-ndjson", "gzip"))
    assert as_json.columns == wrapped.columns
    assert {k: v for k, v in as_ndjson.columns.items()} == as_json.columns
    assert as_ndjson.accepted == 2
    assert (as_ndjson.rejections[0].index, as_ndjson.rejections[0].reason) == (2, "not_json")
    assert "line 3" in as_ndjson.rejections[0].message


def test_a_clean_array_takes_the_fast_path_with_the_slow_paths_verdicts() -> None:
    from ingest.events import _TypedEvent

    cases = [
        event(),
        event(ts=int((NOW - timedelta(minutes=3)).timestamp() * 1000)),
        event(ts=(NOW + timedelta(days=1)).isoformat()),  # clamped
        event(user_id=None, device_id="d9", region="jp", language="ja-JP", platform="IOS"),
        event(event_type="search", video_id=None, props={"query": "cats", "page": 2}),
        event(event_type="follow", target_user_id="c1"),
        # Well-formed but wrong on meaning: both paths reject them the same way.
        event(region="XX"),
        event(video_id=None),
        event(event_type="watch"),
        event(event_type="search", video_id=None, props={"query": ""}),
        event(language="???"),
        event(platform="fridge"),
        event(props={f"k{n}": n for n in range(40)}),
    ]
    body = orjson.dumps(cases)
    fast_items = read_batch(body, content_type=None, content_encoding=None, limits=LIMITS)
    assert all(type(item) is _TypedEvent for item in fast_items)
    fast = validate(fast_items)
    slow = validate(orjson.loads(body))
    assert fast.columns == slow.columns
    assert [(r.index, r.reason, r.field) for r in fast.rejections] == [
        (r.index, r.reason, r.field) for r in slow.rejections
    ]
    assert [r.index for r in fast.rejections] == list(range(6, 13))
    # One malformed item sends the whole batch down the slow path, item by item.
    mixed = read_batch(
        orjson.dumps([*cases[:3], {"event_id": 5}]),
        content_type=None,
        content_encoding=None,
        limits=LIMITS,
    )
    assert not any(type(item) is _TypedEvent for item in mixed)
    assert validate(mixed).accepted == 3


def test_the_fast_path_knows_every_event_type() -> None:
    import typing

    from analytics import EVENT_TYPES
    from ingest.events import _TypedEvent

    hints = typing.get_type_hints(_TypedEvent)
    assert typing.get_args(hints["event_type"]) == EVENT_TYPES


def test_whole_batch_refusals_name_the_limit() -> None:
    with pytest.raises(TooLargeError) as many:
        read_batch(
            orjson.dumps([event() for _ in range(1001)]),
            content_type="application/json",
            content_encoding=None,
            limits=LIMITS,
        )
    assert many.value.details["setting"] == "VIGIL_EVENTS__MAX_BATCH_EVENTS"
    bomb = gzip.compress(b"[" + b" " * (2 * 1024 * 1024) + b"]")
    with pytest.raises(TooLargeError) as big:
        read_batch(bomb, content_type="application/json", content_encoding="gzip", limits=LIMITS)
    assert big.value.details["limit"] == 1024 * 1024
    with pytest.raises(InvalidInputError):
        read_batch(b"[", content_type="application/json", content_encoding=None, limits=LIMITS)
    with pytest.raises(InvalidInputError):
        read_batch(b"{}", content_type="application/json", content_encoding=None, limits=LIMITS)
    with pytest.raises(InvalidInputError):
        read_batch(b"[]", content_type="application/json", content_encoding=None, limits=LIMITS)
    with pytest.raises(InvalidInputError):
        read_batch(b"\x1f\x8b junk", content_type=None, content_encoding="gzip", limits=LIMITS)
    with pytest.raises(UnsupportedMediaError):
        read_batch(b"[]", content_type="text/csv", content_encoding=None, limits=LIMITS)
    with pytest.raises(UnsupportedMediaError):
        read_batch(b"[]", content_type=None, content_encoding="br", limits=LIMITS)


def test_bus_messages_round_trip_and_split_big_batches() -> None:
    items = [
        event(event_type="watch", watched_ms=n, position_ms=n, props={"pad": "x" * 2000})
        for n in range(600)
    ]
    batch = validate(items)
    messages = encode_messages(batch, batch_id="b1")
    assert [m["events"] for m in messages] == [250, 250, 100]
    assert all(len(orjson.dumps(m)) < 1024 * 1024 for m in messages), "under the bus's limit"
    tables = [decode_message(orjson.loads(orjson.dumps(m))) for m in messages]
    assert [i for t in tables for i in t.column("event_id").to_pylist()] == batch.columns[
        "event_id"
    ]
    assert tables[0].column("ts")[0].as_py() == batch.columns["ts"][0]
    assert tables[2].column("props")[0].as_py() == batch.columns["props"][500]
    with pytest.raises(InvalidInputError):
        decode_message({"format": 1, "columns": {}})


def test_the_published_json_schema_is_the_one_the_code_makes() -> None:
    import json
    import re
    from pathlib import Path

    from ingest.events import event_json_schema

    doc = (Path(__file__).resolve().parents[2] / "docs" / "events.md").read_text()
    published = re.search(r"## JSON Schema.*?```json\n(.*?)```", doc, re.S)
    assert published, "docs/events.md has a JSON Schema section"
    assert json.loads(published.group(1)) == event_json_schema(), (
        "regenerate the block from ingest.events.event_json_schema()"
    )


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"event_type": "watch", "watched_ms": 10},
        {"event_type": "follow", "video_id": None, "target_user_id": "c1"},
        {"event_type": "search", "video_id": None, "props": {"query": "cats"}},
        {"user_id": None, "device_id": "d1"},
        {"video_id": None},
        {"event_type": "watch"},
        {"event_type": "search", "video_id": None},
        {"regoin": "ES"},
        {"event_type": "teleport"},
        {"user_id": None},
        {"props": {"a": {"b": 1}}},
        {"event_type": "follow", "video_id": None},
    ],
)
def test_the_schema_and_the_collector_agree(fields: dict[str, Any]) -> None:
    import jsonschema

    from ingest.events import event_json_schema

    item = event(**fields)
    schema_ok = jsonschema.Draft202012Validator(event_json_schema()).is_valid(item)
    collector_ok = validate([item]).accepted == 1
    assert schema_ok == collector_ok
