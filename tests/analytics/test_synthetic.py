"""The synthetic events have the shapes the analytics charts are meant to show."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta

import duckdb
import polars as pl
import pyarrow as pa
import pytest

from analytics.schema import EVENT_SCHEMA
from analytics.synthetic import (
    REGION_PROFILES,
    USERS_SCHEMA,
    VIDEOS_SCHEMA,
    Catalog,
    catalog_frames,
    catalog_size,
    client_events,
    generate_events,
    synthetic_catalog,
    write_catalog,
)
from core.errors import InvalidInputError
from localization import REGIONS

START = date(2025, 3, 3)  # a Monday
DAYS = 28
EVENTS = 200_000
BOTS = 3


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    users, videos = catalog_size(events=EVENTS, days=DAYS)
    return synthetic_catalog(users=users, videos=videos, start=START, days=DAYS, seed=7)


@pytest.fixture(scope="module")
def tables(catalog: Catalog) -> list[pa.Table]:
    return list(
        generate_events(
            catalog,
            events=EVENTS,
            start=START,
            days=DAYS,
            seed=7,
            duplicates=0.005,
            bots=BOTS,
            mark_bots=True,
            chunk_rows=4_000,
        )
    )


@pytest.fixture(scope="module")
def con(catalog: Catalog, tables: list[pa.Table]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("raw", pa.concat_tables(tables))
    con.register("videos", catalog.videos)
    con.register("users", catalog.users)
    # Human events once each, as the collector would keep them.
    con.execute(
        """
        CREATE TABLE ev AS
        SELECT * EXCLUDE (n), coalesce(user_id, device_id) AS actor_id
        FROM (SELECT *, row_number() OVER (PARTITION BY event_id) AS n FROM raw)
        WHERE n = 1 AND NOT is_bot
        """
    )
    con.execute(
        """
        CREATE TABLE views AS
        SELECT actor_id, session_id, video_id, any_value(v.duration_ms) AS duration_ms,
               any_value(e.region) AS region,
               max(position_ms) FILTER (event_type IN ('watch', 'skip')) AS reached,
               count(*) FILTER (event_type = 'complete') AS completes
        FROM ev e JOIN videos v USING (video_id)
        WHERE event_type IN ('view_start', 'watch', 'skip', 'complete')
        GROUP BY ALL
        """
    )
    return con


def one(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> tuple:
    row = con.execute(sql, params).fetchone()
    assert row is not None
    return row


def test_tables_have_the_lake_schema_and_exactly_the_asked_rows(tables: list[pa.Table]) -> None:
    assert all(table.schema == EVENT_SCHEMA for table in tables)
    assert sum(table.num_rows for table in tables) == EVENTS
    assert len(tables) > DAYS  # several chunks a day at chunk_rows=4000
    assert max(table.num_rows for table in tables) < 4_000 * 1.5 + EVENTS // DAYS * 0.02
    for table in tables:
        ts = table["ts"].to_pylist()
        assert ts == sorted(ts)


def test_the_same_seed_gives_the_same_events(catalog: Catalog) -> None:
    def run(seed: int) -> pa.Table:
        return pa.concat_tables(
            generate_events(catalog, events=20_000, start=START, days=5, seed=seed, bots=2)
        )

    first, again, other = run(3), run(3), run(4)
    assert first.equals(again)
    assert first["event_id"] != other["event_id"]
    assert first.num_rows == other.num_rows == 20_000


def test_each_region_is_busiest_in_its_local_evening(con: duckdb.DuckDBPyConnection) -> None:
    peaks = con.execute(
        """
        SELECT region, arg_max(hour, n) FROM (
            SELECT region, hour(ts) AS hour, count(*) AS n FROM ev GROUP BY ALL
        ) GROUP BY region
        """
    ).fetchall()
    checked = 0
    for region, utc_hour in peaks:
        offsets = REGION_PROFILES[region].utc_offsets
        if len(offsets) != 1:  # the US spans four zones
            continue
        local_hour = (utc_hour + offsets[0][0] / 60) % 24
        assert 18 <= local_hour <= 23.5, (region, utc_hour, local_hour)
        checked += 1
    assert checked >= 10


def test_weekends_are_busier_than_early_weekdays(con: duckdb.DuckDBPyConnection) -> None:
    weekend, early_week = one(
        con,
        """
        SELECT avg(n) FILTER (dow IN (0, 6)), avg(n) FILTER (dow BETWEEN 1 AND 3) FROM (
            SELECT ts::DATE AS day, any_value(dayofweek(ts)) AS dow, count(*) AS n
            FROM ev WHERE ts < TIMESTAMPTZ '2025-03-31' GROUP BY day
        )
        """,
    )
    assert weekend > 1.1 * early_week


def test_a_few_videos_take_most_views(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> None:
    top_share, median_views, mean_views = one(
        con,
        """
        WITH per_video AS (
            SELECT video_id, count(*) AS views FROM ev WHERE event_type = 'view_start' GROUP BY 1
        ), ranked AS (
            SELECT views, row_number() OVER (ORDER BY views DESC) AS rank FROM per_video
        )
        SELECT sum(views) FILTER (rank <= $top) / sum(views), median(views), avg(views)
        FROM ranked
        """,
        {"top": catalog.videos.num_rows // 100},
    )
    assert top_share > 0.3
    assert median_views < 0.25 * mean_views


def test_videos_are_watched_only_once_they_exist_and_new_ones_get_views(
    con: duckdb.DuckDBPyConnection,
) -> None:
    early, new_videos_watched = one(
        con,
        """
        SELECT count(*) FILTER (e.ts < v.created_at),
               count(DISTINCT video_id) FILTER (v.created_at > TIMESTAMPTZ '2025-03-17')
        FROM ev e JOIN videos v USING (video_id)
        """,
    )
    assert early == 0
    assert new_videos_watched > 100


def test_later_positions_are_reached_by_fewer_views(con: duckdb.DuckDBPyConnection) -> None:
    reach = one(
        con,
        """
        SELECT avg((reached >= 0.1 * duration_ms)::INT), avg((reached >= 0.25 * duration_ms)::INT),
               avg((reached >= 0.5 * duration_ms)::INT), avg((reached >= 0.75 * duration_ms)::INT),
               avg((reached >= duration_ms)::INT)
        FROM views
        """,
    )
    assert list(reach) == sorted(reach, reverse=True)
    assert reach[0] > reach[-1] + 0.2
    assert 0.1 < reach[-1] < 0.5


def test_watch_spans_are_consistent_with_the_video(con: duckdb.DuckDBPyConnection) -> None:
    beyond_end, span_longer_than_position, complete_mismatch, rewatches, views = one(
        con,
        """
        SELECT
            (SELECT count(*) FROM ev JOIN videos USING (video_id)
             WHERE position_ms > duration_ms OR position_ms < 0),
            (SELECT count(*) FROM ev WHERE event_type = 'watch' AND watched_ms > position_ms),
            (SELECT count(*) FROM views WHERE (completes > 0) != (reached = duration_ms)),
            (SELECT count(*) FROM views WHERE completes > 1),
            (SELECT count(*) FROM views)
        """,
    )
    assert (beyond_end, span_longer_than_position) == (0, 0)
    # The last session of a day can be cut between a view's last watch and its complete, and a
    # session can show the same video twice; nothing else breaks the rule.
    assert complete_mismatch < 0.001 * views
    assert rewatches > 100


def test_event_mix_is_realistic(con: duckdb.DuckDBPyConnection) -> None:
    counts = dict(con.execute("SELECT event_type, count(*) FROM ev GROUP BY 1").fetchall())
    order = ["view_start", "watch", "like", "share", "comment", "follow", "report"]
    assert [counts[t] for t in order] == sorted((counts[t] for t in order), reverse=True)
    assert counts["report"] > 0
    assert counts["skip"] > counts["like"]
    assert 0 < counts["not_interested"] < counts["skip"]
    assert counts["search"] > counts["share"]
    bad_props, follows_not_to_creator = one(
        con,
        """
        SELECT
            count(*) FILTER (event_type = 'search' AND json_extract_string(props, '$.query') IS NULL
                OR event_type = 'report' AND json_extract_string(props, '$.reason') IS NULL),
            (SELECT count(*) FROM ev JOIN videos USING (video_id)
             WHERE event_type = 'follow' AND target_user_id IS DISTINCT FROM creator_id)
        FROM ev
        """,
    )
    assert (bad_props, follows_not_to_creator) == (0, 0)


def test_regions_differ_and_speak_their_languages(con: duckdb.DuckDBPyConnection) -> None:
    rates = dict(
        con.execute(
            "SELECT region, avg((completes > 0)::INT) FROM views GROUP BY 1 HAVING count(*) > 2000"
        ).fetchall()
    )
    assert len(rates) >= 8
    assert max(rates.values()) > 1.4 * min(rates.values())
    pairs = con.execute("SELECT DISTINCT region, language FROM ev").fetchall()
    assert all(language in REGIONS[region].languages for region, language in pairs)
    platforms = dict(
        con.execute(
            "SELECT region, avg((platform = 'ios')::INT) FROM ev WHERE region IN ('JP', 'IN') "
            "GROUP BY 1"
        ).fetchall()
    )
    assert platforms["JP"] > 3 * platforms["IN"]


def test_new_users_return_less_and_less(con: duckdb.DuckDBPyConnection) -> None:
    by_age = dict(
        con.execute(
            """
            WITH first AS (SELECT actor_id, min(ts::DATE) AS day FROM ev GROUP BY 1),
            active AS (SELECT DISTINCT actor_id, ts::DATE AS day FROM ev)
            SELECT a.day - f.day AS age, count(*)
            FROM active a JOIN first f USING (actor_id) JOIN users u ON u.user_id = a.actor_id
            WHERE u.created_at >= TIMESTAMPTZ '2025-03-03' AND f.day <= DATE '2025-03-10'
            GROUP BY 1
            """
        ).fetchall()
    )
    first_days, next_days, week_later, two_weeks_later = (
        sum(by_age.get(age, 0) for age in ages)
        for ages in ((0,), (1, 2, 3), (6, 7, 8), (13, 14, 15))
    )
    assert first_days > 1.5 * next_days / 3
    assert next_days > 1.3 * week_later > 1.3 * 1.1 * two_weeks_later > 0


def test_signed_in_users_and_anonymous_devices(
    con: duckdb.DuckDBPyConnection, catalog: Catalog
) -> None:
    both_or_neither, unknown_users, anonymous_share = one(
        con,
        """
        SELECT count(*) FILTER ((user_id IS NULL) = (device_id IS NULL)),
               count(DISTINCT user_id) FILTER (user_id NOT IN (SELECT user_id FROM users)),
               count(DISTINCT device_id) / count(DISTINCT actor_id)
        FROM ev
        """,
    )
    assert (both_or_neither, unknown_users) == (0, 0)
    assert 0.1 < anonymous_share < 0.5


def test_duplicates_and_bots_at_the_asked_rates(con: duckdb.DuckDBPyConnection) -> None:
    duplicates, bot_share, bot_actors, wrong_reason = one(
        con,
        """
        SELECT (count(*) - count(DISTINCT event_id)) / count(*),
               avg(is_bot::INT),
               count(DISTINCT device_id) FILTER (is_bot),
               count(*) FILTER (is_bot AND bot_reason IS DISTINCT FROM 'rate'
                                OR NOT is_bot AND bot_reason IS NOT NULL)
        FROM raw
        """,
    )
    assert duplicates == pytest.approx(0.005, abs=0.0005)
    assert bot_share == pytest.approx(0.01, abs=0.002)
    assert bot_actors == BOTS
    assert wrong_reason == 0
    slowest_bot_rate, fastest_human_rate = one(
        con,
        """
        WITH per_day AS (
            SELECT is_bot, coalesce(user_id, device_id) AS actor, ts::DATE,
                   count(*) / greatest(epoch(max(ts) - min(ts)), 1) AS per_second, count(*) AS n
            FROM raw GROUP BY ALL HAVING count(*) >= 20
        )
        SELECT min(per_second) FILTER (is_bot), max(per_second) FILTER (NOT is_bot) FROM per_day
        """,
    )
    assert slowest_bot_rate > 2
    assert fastest_human_rate < 0.5 * slowest_bot_rate
    resent = one(
        con,
        """
        SELECT count(*) FROM (
            SELECT event_id FROM raw GROUP BY 1
            HAVING count(*) > 1 AND (count(DISTINCT ts) > 1 OR count(DISTINCT received_at) = 1)
        )
        """,
    )
    assert resent == (0,)  # a duplicate is the same event, received later


def test_bots_are_unmarked_in_raw_client_traffic(catalog: Catalog) -> None:
    table = pa.concat_tables(
        generate_events(catalog, events=10_000, start=START, days=2, seed=1, bots=2)
    )
    assert not pa.compute.any(table["is_bot"]).as_py()
    assert table["bot_reason"].null_count == table.num_rows


def test_client_events_are_the_collectors_input(catalog: Catalog) -> None:
    events = client_events(catalog, events=3_000, start=START, days=2, seed=2, duplicates=0.01)
    assert len(events) == 3_000
    assert len({e["event_id"] for e in events}) == 3_000 - 30
    for event in events:
        assert uuid.UUID(event["event_id"]).version == 4
        assert event["ts"].endswith("Z")
        moment = datetime.fromisoformat(event["ts"])
        assert START <= moment.date() <= START + timedelta(days=2)
        assert ("user_id" in event) != ("device_id" in event)
        assert {"session_id", "region", "language", "platform", "app_version"} <= event.keys()
        assert not {"is_bot", "received_at", "ts_clamped"} & event.keys()
        if event["event_type"] == "search":
            assert isinstance(event["props"], dict)
            assert event["props"]["query"]
    json.dumps(events)


def test_a_catalog_from_database_rows(tmp_path) -> None:
    now = datetime(2025, 3, 1, tzinfo=UTC)
    users = [
        {"user_id": f"u{i}", "name": f"user{i}", "country": c, "language": None, "created_at": now}
        for i, c in enumerate(["US", "JP", "BR", "NZ"] * 10)
    ]
    videos = [
        {"video_id": f"v{i}", "creator_id": "u0", "duration_ms": 10_000 + i, "created_at": now}
        for i in range(5)
    ] + [{"video_id": "v-unknown", "creator_id": "u1"}]
    catalog = Catalog.from_rows(users=users, videos=videos)
    table = pa.concat_tables(
        generate_events(catalog, events=5_000, start=START, days=3, seed=1, duplicates=0)
    )
    assert table.num_rows == 5_000
    assert set(table["video_id"].drop_null().to_pylist()) <= {v["video_id"] for v in videos}
    assert "NZ" in set(table["region"].to_pylist())

    frames = catalog_frames(catalog)
    assert frames["users"].columns == USERS_SCHEMA.names
    assert frames["videos"].columns == VIDEOS_SCHEMA.names
    assert frames["videos"].schema["hashtags"] == pl.List(pl.String)
    assert frames["videos"].schema["created_at"] == pl.Datetime("us", "UTC")
    assert frames["videos"]["state"].to_list() == ["ready"] * 6
    assert frames["users"].height == 40
    paths = write_catalog(catalog, tmp_path)
    assert pl.read_parquet(paths["videos"]).equals(frames["videos"])


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"events": 0}, "events"),
        ({"days": 0}, "days"),
        ({"duplicates": 0.9}, "duplicates"),
        ({"bots": -1}, "bots"),
    ],
)
def test_invalid_options_name_the_field(catalog: Catalog, options: dict, field: str) -> None:
    arguments = {"events": 100, "start": START, "days": 1, **options}
    with pytest.raises(InvalidInputError) as caught:
        next(generate_events(catalog, **arguments))
    assert caught.value.details["field"] == field
