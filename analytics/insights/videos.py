"""Video and creator insights: one video's numbers and watch-through, top videos, creators,
trending hashtags and sounds."""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl

from ..filters import Filters
from ._common import (
    MS_PER_HOUR,
    check_choice,
    check_positive,
    check_text,
    fetch,
    video_daily_source,
    video_totals_source,
)

MAX_LIMIT = 1000
TRENDING_KINDS: tuple[str, ...] = ("hashtag", "sound")


def video_metrics(
    cur: duckdb.DuckDBPyConnection, filters: Filters, *, video_id: str
) -> pl.DataFrame:
    """One row of ``video_id``'s numbers in the range (zeros, and null rates, without views)."""
    check_text("video_id", video_id)
    where, params = filters.where()
    sql = f"""
        WITH counted AS (
            SELECT count(*) FILTER (WHERE event_type = 'view_start') AS views,
                   count(DISTINCT actor_key) FILTER (WHERE event_type = 'view_start')
                       AS unique_viewers,
                   coalesce(sum(watched_ms), 0) AS watched_ms,
                   count(*) FILTER (WHERE event_type = 'complete') AS completes,
                   count(*) FILTER (WHERE event_type = 'like') AS likes,
                   count(*) FILTER (WHERE event_type = 'share') AS shares,
                   count(*) FILTER (WHERE event_type = 'comment') AS comments,
                   count(*) FILTER (WHERE event_type = 'report') AS reports
            FROM events WHERE {where} AND video_id = ?
        )
        SELECT views::BIGINT AS views, unique_viewers::BIGINT AS unique_viewers,
               watched_ms / {MS_PER_HOUR} AS watch_hours,
               watched_ms / 1000 / nullif(views, 0) AS avg_watch_seconds,
               completes / nullif(views, 0) AS completion_rate,
               -- every view after a viewer's first one is a rewatch
               (views - unique_viewers)::BIGINT AS rewatches,
               likes::BIGINT AS likes, shares::BIGINT AS shares, comments::BIGINT AS comments,
               reports::BIGINT AS reports
        FROM counted
    """
    return fetch(cur, sql, [*params, video_id])


def retention_curve(
    cur: duckdb.DuckDBPyConnection, filters: Filters, *, video_id: str
) -> pl.DataFrame:
    """(second, viewers, share): views still watching at each second of ``video_id``."""
    # A view (actor, session, video) reaches the furthest position_ms of its watch spans, or the
    # end when it completed; it is still watching at second s when it reached s * 1000 ms.
    check_text("video_id", video_id)
    where, params = filters.where()
    sql = f"""
        WITH duration AS (SELECT max(duration_ms) AS ms FROM videos WHERE video_id = ?),
        per_view AS (
            SELECT actor_key, coalesce(session_id, '') AS session,
                   bool_or(event_type = 'view_start') AS started,
                   bool_or(event_type = 'complete') AS completed,
                   coalesce(max(position_ms) FILTER (WHERE event_type = 'watch'), 0) AS position
            FROM events
            WHERE {where} AND video_id = ? AND event_type IN ('view_start', 'watch', 'complete')
            GROUP BY ALL
        ),
        reach AS (
            SELECT CASE WHEN completed AND d.ms IS NOT NULL THEN d.ms
                        ELSE least(position, coalesce(d.ms, position)) END // 1000 AS second
            FROM per_view CROSS JOIN duration d WHERE started
        ),
        histogram AS (SELECT second, count(*) AS views FROM reach GROUP BY second),
        seconds AS (
            SELECT range AS second
            FROM range(0, coalesce((SELECT ms FROM duration) // 1000,
                                   (SELECT max(second) FROM reach)) + 1)
        )
        SELECT s.second::INTEGER AS second,
               coalesce(sum(h.views) OVER later, 0)::BIGINT AS viewers,
               coalesce(sum(h.views) OVER later, 0) / nullif((SELECT count(*) FROM reach), 0)
                   AS share
        FROM seconds s LEFT JOIN histogram h ON h.second = s.second
        WINDOW later AS (ORDER BY s.second ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
        ORDER BY s.second
    """
    return fetch(cur, sql, [video_id, *params, video_id])


def top_videos(
    cur: duckdb.DuckDBPyConnection, filters: Filters, *, limit: int = 10
) -> pl.DataFrame:
    """The ``limit`` most viewed videos with their creator and engagement numbers."""
    check_positive("limit", limit, most=MAX_LIMIT)
    source, params, key = video_totals_source(filters)
    # Two passes: rank by views alone (one sum per video), then total the other measures for
    # the winners only; summing everything for every video costs twice as much.
    sql = f"""
        WITH ranked AS (
            SELECT {key} AS k, sum(views) AS views FROM {source} AS src
            GROUP BY {key} HAVING sum(views) > 0
            ORDER BY views DESC, k LIMIT ?
        ),
        per_video AS (
            SELECT any_value(src.video_id) AS video_id, sum(src.views) AS views,
                   sum(src.completes) AS completes, sum(src.watched_ms) AS watched_ms,
                   sum(src.likes) AS likes, sum(src.shares) AS shares,
                   sum(src.comments) AS comments
            FROM {source} AS src SEMI JOIN ranked r ON src.{key} = r.k
            GROUP BY src.{key}
        )
        SELECT p.video_id, v.caption, v.creator_id, u.name AS creator_name,
               p.views::BIGINT AS views, p.watched_ms / {MS_PER_HOUR} AS watch_hours,
               p.watched_ms / 1000 / p.views AS avg_watch_seconds,
               p.completes / p.views AS completion_rate, p.likes::BIGINT AS likes,
               p.shares::BIGINT AS shares, p.comments::BIGINT AS comments
        FROM per_video p
        LEFT JOIN videos v ON v.video_id = p.video_id
        LEFT JOIN users u ON u.user_id = v.creator_id
        ORDER BY p.views DESC, p.video_id
    """
    return fetch(cur, sql, [*params, limit, *params])


def creator_metrics(
    cur: duckdb.DuckDBPyConnection, filters: Filters, *, limit: int = 20
) -> pl.DataFrame:
    """The ``limit`` most viewed creators: views, reach, watch time, follows, engagement."""
    # videos = the creator's videos viewed in the range; followers_gained = follows minus
    # unfollows (net, as a creator sees it); engagement_rate = (likes + shares + comments) / views.
    check_positive("limit", limit, most=MAX_LIMIT)
    where_e, params = filters.where(alias="e")
    where, _ = filters.where()
    sql = f"""
        WITH viewing AS (
            -- Views apart from the other events: DuckDB runs DISTINCT ... FILTER far slower.
            SELECT v.creator_id, count(DISTINCT e.video_id) AS videos, count(*) AS views,
                   count(DISTINCT e.actor_key) AS unique_viewers
            FROM events e JOIN videos v ON v.video_id = e.video_id
            WHERE {where_e} AND e.event_type = 'view_start'
            GROUP BY v.creator_id
        ),
        engaging AS (
            SELECT v.creator_id, coalesce(sum(e.watched_ms), 0) AS watched_ms,
                   count(*) FILTER (WHERE e.event_type = 'like') AS likes,
                   count(*) FILTER (WHERE e.event_type IN ('like', 'share', 'comment'))
                       AS engagements
            FROM events e JOIN videos v ON v.video_id = e.video_id
            WHERE {where_e} AND e.event_type IN ('watch', 'like', 'share', 'comment')
            GROUP BY v.creator_id
        ),
        per_creator AS (
            SELECT w.creator_id, w.videos, w.views, w.unique_viewers,
                   coalesce(g.watched_ms, 0) AS watched_ms, coalesce(g.likes, 0) AS likes,
                   coalesce(g.engagements, 0) AS engagements
            FROM viewing w LEFT JOIN engaging g ON g.creator_id = w.creator_id
        ),
        follows AS (
            SELECT target_user_id AS creator_id,
                   count(*) FILTER (WHERE event_type = 'follow')
                   - count(*) FILTER (WHERE event_type = 'unfollow') AS followers_gained
            FROM events
            WHERE {where} AND event_type IN ('follow', 'unfollow') AND target_user_id IS NOT NULL
            GROUP BY target_user_id
        )
        SELECT p.creator_id, u.name AS creator_name, p.videos::BIGINT AS videos,
               p.views::BIGINT AS views, p.unique_viewers::BIGINT AS unique_viewers,
               p.watched_ms / {MS_PER_HOUR} AS watch_hours, p.likes::BIGINT AS likes,
               coalesce(f.followers_gained, 0)::BIGINT AS followers_gained,
               p.engagements / nullif(p.views, 0) AS engagement_rate
        FROM per_creator p
        LEFT JOIN follows f ON f.creator_id = p.creator_id
        LEFT JOIN users u ON u.user_id = p.creator_id
        WHERE p.views > 0
        ORDER BY p.views DESC, p.creator_id
        LIMIT ?
    """
    return fetch(cur, sql, [*params, *params, *params, limit])


def trending(
    cur: duckdb.DuckDBPyConnection,
    filters: Filters,
    *,
    kind: str = "hashtag",
    limit: int = 10,
    by_region: bool = False,
) -> pl.DataFrame:
    """Hashtags or sounds gaining views fastest on the range's last day (per region on request)."""
    # views: on the last day; previous_views: the daily average of the range's earlier days;
    # velocity = views / previous_views, null without earlier days or earlier views (a ratio
    # against nothing is not a speed). region is the viewers' region, null unless by_region;
    # limit applies per region.
    check_choice("kind", kind, TRENDING_KINDS)
    check_positive("limit", limit, most=MAX_LIMIT)
    source, params = video_daily_source(filters)
    name_sql = "unnest(v.hashtags)" if kind == "hashtag" else "v.sound"
    region_sql = "d.region" if by_region else "NULL::VARCHAR"
    earlier_days = filters.days - 1
    sql = f"""
        WITH tagged AS (
            SELECT {region_sql} AS region, {name_sql} AS name, d.event_date, d.views
            FROM {source} AS d JOIN videos v ON v.video_id = d.video_id
        ),
        per_name AS (
            SELECT region, name,
                   coalesce(sum(views) FILTER (WHERE event_date = ?), 0)::BIGINT AS views,
                   CASE WHEN ? > 0
                        THEN coalesce(sum(views) FILTER (WHERE event_date < ?), 0) / ?
                   END AS previous_views
            FROM tagged WHERE name IS NOT NULL GROUP BY ALL
        )
        SELECT region, name, views, previous_views::DOUBLE AS previous_views,
               views / nullif(previous_views, 0) AS velocity
        FROM per_name WHERE views > 0
        QUALIFY row_number() OVER (
            PARTITION BY region ORDER BY velocity DESC NULLS LAST, views DESC, name
        ) <= ?
        ORDER BY region, velocity DESC NULLS LAST, views DESC, name
    """
    all_params: list[Any] = [
        *params,
        filters.end,
        earlier_days,
        filters.end,
        max(earlier_days, 1),
        limit,
    ]
    return fetch(cur, sql, all_params)
