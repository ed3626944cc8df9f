"""Per-region insights: engagement by region and trust-and-safety report rates."""

from __future__ import annotations

import duckdb
import polars as pl

from ..filters import Filters
from ._common import MS_PER_HOUR, actor_daily_source, fetch, video_daily_source


def region_metrics(cur: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """(region, active_users, views, watch_hours, avg_watch_seconds) per viewer region."""
    actors, actor_params = actor_daily_source(filters)
    videos, video_params = video_daily_source(filters)
    # Both sides come from rollups (for human traffic), so this stays cheap at any size.
    sql = f"""
        WITH people AS (
            SELECT region, count(DISTINCT actor_key) AS active_users
            FROM {actors} AS a GROUP BY region
        ),
        watching AS (
            SELECT region, sum(views) AS views, sum(watched_ms) AS watched_ms
            FROM {videos} AS v GROUP BY region
        )
        SELECT coalesce(p.region, w.region) AS region,
               coalesce(p.active_users, 0)::BIGINT AS active_users,
               coalesce(w.views, 0)::BIGINT AS views,
               coalesce(w.watched_ms, 0) / {MS_PER_HOUR} AS watch_hours,
               w.watched_ms / 1000 / nullif(w.views, 0) AS avg_watch_seconds
        FROM people p FULL JOIN watching w ON w.region IS NOT DISTINCT FROM p.region
        ORDER BY views DESC, active_users DESC, region
    """
    return fetch(cur, sql, [*actor_params, *video_params])


def trust_safety(cur: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """(region, views, reports, reports_per_1000_views) per viewer region, most reported first."""
    source, params = video_daily_source(filters)
    sql = f"""
        SELECT region, sum(views)::BIGINT AS views, sum(reports)::BIGINT AS reports,
               sum(reports) * 1000 / nullif(sum(views), 0) AS reports_per_1000_views
        FROM {source} AS v
        GROUP BY region
        HAVING sum(views) > 0 OR sum(reports) > 0
        ORDER BY reports_per_1000_views DESC NULLS FIRST, reports DESC, region
    """
    return fetch(cur, sql, params)
