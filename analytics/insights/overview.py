"""The overview page: headline KPIs against the previous period, the daily series, top videos
and regions. Reads only the rollups and the metadata relations, so it stays fast at any size."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta

import duckdb
import polars as pl

from ..filters import Filters
from ._common import MS_PER_HOUR, fetch, human
from .regions import region_metrics
from .videos import top_videos

TOP = 10

#: (metric, label) of the KPIs, in display order.
KPIS: tuple[tuple[str, str], ...] = (
    ("active_users", "Active users"),
    ("watch_hours", "Watch hours"),
    ("views", "Views"),
    ("avg_watch_seconds", "Avg. watch time per view (s)"),
    ("uploads", "Uploads"),
)


@dataclass(frozen=True)
class Overview:
    """The overview page's four tables."""

    kpis: pl.DataFrame  # metric, label, value, previous, change_pct
    daily: pl.DataFrame  # event_date, active_users, views, watch_hours
    top_videos: pl.DataFrame  # video_id, caption, creator_id, creator_name, views, ...
    top_regions: pl.DataFrame  # region, views, active_users, watch_hours


def _kpis(cur: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """Both periods in one scan per relation: the span covers both and each sum is filtered."""
    previous = filters.previous()
    both = dataclasses.replace(filters, start=previous.start)
    where, params = both.where(bots=False)
    now_where, now_params = filters.where(bots=False)
    then_where, then_params = previous.where(bots=False)
    video_where = ["created_at >= ?", "created_at < ?"]
    video_params: list[object] = [previous.start, filters.end + timedelta(days=1)]
    # Uploads follow the video's own region and language (videos have no platform).
    for column, values in (("region", filters.regions), ("language", filters.languages)):
        if values:
            video_where.append(f"{column} IN ({', '.join('?' for _ in values)})")
            video_params.extend(values)
    sql = f"""
        WITH watching AS (
            SELECT coalesce(sum(views) FILTER (WHERE event_date >= ?), 0) AS views,
                   coalesce(sum(views) FILTER (WHERE event_date < ?), 0) AS previous_views,
                   coalesce(sum(watched_ms) FILTER (WHERE event_date >= ?), 0) AS watched_ms,
                   coalesce(sum(watched_ms) FILTER (WHERE event_date < ?), 0)
                       AS previous_watched_ms
            FROM rollup_video_daily WHERE {where}
        ),
        people AS (
            -- Two plain DISTINCT counts: DuckDB runs DISTINCT ... FILTER far slower.
            SELECT (SELECT count(DISTINCT actor_key) FROM rollup_actor_daily WHERE {now_where})
                       AS users,
                   (SELECT count(DISTINCT actor_key) FROM rollup_actor_daily WHERE {then_where})
                       AS previous_users
        ),
        uploads AS (
            -- created_at is compared as an instant: the range's days are UTC days.
            SELECT count(*) FILTER (WHERE created_at >= ?) AS uploads,
                   count(*) FILTER (WHERE created_at < ?) AS previous_uploads
            FROM videos WHERE {" AND ".join(video_where)}
        ),
        pairs AS (
            SELECT users::DOUBLE AS active_users, previous_users::DOUBLE AS active_users_p,
                   watched_ms / {MS_PER_HOUR} AS watch_hours,
                   previous_watched_ms / {MS_PER_HOUR} AS watch_hours_p,
                   views::DOUBLE AS views, previous_views::DOUBLE AS views_p,
                   watched_ms / 1000 / nullif(views, 0) AS avg_watch_seconds,
                   previous_watched_ms / 1000 / nullif(previous_views, 0) AS avg_watch_seconds_p,
                   uploads::DOUBLE AS uploads, previous_uploads::DOUBLE AS uploads_p
            FROM watching, people, uploads
        )
        SELECT k.position, k.metric, k.label,
               CASE k.metric {" ".join(f"WHEN '{m}' THEN {m}" for m, _ in KPIS)} END AS value,
               CASE k.metric {" ".join(f"WHEN '{m}' THEN {m}_p" for m, _ in KPIS)} END
                   AS previous
        FROM pairs CROSS JOIN (VALUES {", ".join(f"({i}, ?, ?)" for i in range(len(KPIS)))})
             AS k(position, metric, label)
    """
    start = filters.start
    all_params: list[object] = [start, start, start, start, *params, *now_params, *then_params]
    all_params += [start, start, *video_params]
    for metric, label in KPIS:
        all_params.extend([metric, label])
    frame = fetch(cur, sql, all_params).sort("position").drop("position")
    return frame.with_columns(
        pl.when(pl.col("previous") > 0)
        .then((pl.col("value") - pl.col("previous")) / pl.col("previous") * 100)
        .otherwise(None)
        .alias("change_pct")
    )


def _daily(cur: duckdb.DuckDBPyConnection, filters: Filters) -> pl.DataFrame:
    """(event_date, active_users, views, watch_hours) for every day of the range."""
    where, params = filters.where(bots=False)
    sql = f"""
        WITH watching AS (
            SELECT event_date, sum(views) AS views, sum(watched_ms) AS watched_ms
            FROM rollup_video_daily WHERE {where} GROUP BY event_date
        ),
        people AS (
            SELECT event_date, count(DISTINCT actor_key) AS active_users
            FROM rollup_actor_daily WHERE {where} GROUP BY event_date
        ),
        days AS (
            SELECT CAST(generate_series AS DATE) AS event_date
            FROM generate_series(CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), INTERVAL 1 DAY)
        )
        SELECT d.event_date, coalesce(p.active_users, 0)::BIGINT AS active_users,
               coalesce(w.views, 0)::BIGINT AS views,
               coalesce(w.watched_ms, 0) / {MS_PER_HOUR} AS watch_hours
        FROM days d
        LEFT JOIN watching w ON w.event_date = d.event_date
        LEFT JOIN people p ON p.event_date = d.event_date
        ORDER BY d.event_date
    """
    return fetch(cur, sql, [*params, *params, filters.start, filters.end])


def overview(cur: duckdb.DuckDBPyConnection, filters: Filters) -> Overview:
    """The overview of ``filters``' range, against the period before it; human traffic only."""
    # include_bots is ignored: the overview reads only the rollups, which hold humans only.
    people = human(filters)
    videos = top_videos(cur, people, limit=TOP).select(
        "video_id",
        "caption",
        "creator_id",
        "creator_name",
        "views",
        "watch_hours",
        "completion_rate",
    )
    regions = (
        region_metrics(cur, people)
        .head(TOP)
        .select("region", "views", "active_users", "watch_hours")
    )
    return Overview(
        kpis=_kpis(cur, people),
        daily=_daily(cur, people),
        top_videos=videos,
        top_regions=regions,
    )
