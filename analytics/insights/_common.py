"""Shared plumbing of the insight queries: running SQL, validating options, choosing sources."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import date, timedelta
from typing import Any

import duckdb
import polars as pl

from core.errors import InvalidInputError

from ..filters import DIMENSIONS, Filters
from ..schema import EVENT_TYPES

#: Columns an insight may break down by; the only identifiers ever put into SQL from input.
BREAKDOWNS: tuple[str, ...] = (*DIMENSIONS, "event_type")

MS_PER_HOUR = 3_600_000.0

#: The SQL of one period start per interval, over an ``event_date`` (DATE) column.
DATE_PERIOD_SQL: dict[str, str] = {
    "day": "event_date",
    "week": "CAST(date_trunc('week', event_date) AS DATE)",
}
#: Days in one period, for the DATE intervals.
PERIOD_DAYS: dict[str, int] = {"day": 1, "week": 7}


def fetch(cur: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> pl.DataFrame:
    """Run ``sql`` with ``?`` parameters on ``cur`` and return the rows as polars."""
    # DuckDB 2 streams execute() results; a relation converts to polars without an extra copy.
    relation = cur.sql(sql, params=list(params))
    if relation is None:  # only statements that are not queries give no relation
        raise RuntimeError("an insight query returned no result")
    frame: pl.DataFrame = relation.pl()
    return frame


def invalid(field: str, message: str, **details: Any) -> InvalidInputError:
    """An InvalidInputError naming ``field``."""
    return InvalidInputError(message, details={"field": field, **details})


def check_choice(field: str, value: str, allowed: Collection[str]) -> str:
    """``value`` if it is one of ``allowed``, else InvalidInputError naming ``field``."""
    if value not in allowed:
        raise invalid(
            field,
            f"{field} must be one of {', '.join(allowed)}, got {value!r}",
            allowed=list(allowed),
        )
    return value


def check_event_type(field: str, value: str | None, *, optional: bool = False) -> str | None:
    """A known event type (or None when ``optional``), else InvalidInputError."""
    if value is None:
        if optional:
            return None
        raise invalid(field, f"{field} is required")
    return check_choice(field, value, EVENT_TYPES)


def check_event_types(field: str, values: Sequence[str]) -> list[str]:
    """A non-empty list of known event types (a lone string is refused, not split)."""
    if isinstance(values, str) or not values:
        raise invalid(field, f"{field} must be a non-empty list of event types")
    return [check_choice(field, v, EVENT_TYPES) for v in values]


def check_breakdown(
    field: str, values: Sequence[str], *, allowed: Sequence[str] = BREAKDOWNS, most: int = 2
) -> list[str]:
    """Breakdown columns from the allow-list, at most ``most``, no repeats."""
    if isinstance(values, str):
        values = [values]
    if len(values) > most:
        raise invalid(field, f"{field} takes at most {most} columns, got {len(values)}")
    if len(set(values)) != len(values):
        raise invalid(field, f"{field} repeats a column")
    for value in values:
        if value not in allowed:
            raise invalid(
                field,
                f"{field} {value!r} is not a column you can break down by ({', '.join(allowed)})",
                allowed=list(allowed),
            )
    return list(values)


def check_positive(field: str, value: int, *, most: int | None = None) -> int:
    """A positive int (at most ``most``), else InvalidInputError naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid(field, f"{field} must be a positive whole number, got {value!r}")
    if most is not None and value > most:
        raise invalid(field, f"{field} must be at most {most}, got {value}", limit=most)
    return value


def check_text(field: str, value: str) -> str:
    """A non-empty string, else InvalidInputError naming ``field``."""
    if not isinstance(value, str) or not value:
        raise invalid(field, f"{field} must be a non-empty string")
    return value


def since_beginning(filters: Filters) -> Filters:
    """``filters`` with the range opened back to the first possible event (for "first ever")."""
    return dataclasses.replace(filters, start=date(1970, 1, 1))


def extended(filters: Filters, days: int) -> Filters:
    """``filters`` with the range ending ``days`` later (for windows that run past the end)."""
    return dataclasses.replace(filters, end=filters.end + timedelta(days=days))


def human(filters: Filters) -> Filters:
    """``filters`` restricted to human traffic (what the rollups hold)."""
    return dataclasses.replace(filters, include_bots=False)


def events_where(filters: Filters, alias: str = "") -> tuple[str, list[Any]]:
    """The condition on ``events`` for ``filters``, bots included only on request."""
    return filters.where(alias=alias)


def video_daily_source(filters: Filters) -> tuple[str, list[Any]]:
    """A relation shaped like rollup_video_daily for ``filters`` (events when bots count)."""
    if not filters.include_bots:
        where, params = filters.where(bots=False)
        return f"(SELECT * FROM rollup_video_daily WHERE {where})", params
    where, params = events_where(filters)
    return (
        "(SELECT event_date, video_id, region, platform, language,"
        " count(*) FILTER (event_type = 'view_start')::BIGINT AS views,"
        " count(*) FILTER (event_type = 'complete')::BIGINT AS completes,"
        " coalesce(sum(watched_ms), 0)::BIGINT AS watched_ms,"
        " count(*) FILTER (event_type = 'like')::BIGINT AS likes,"
        " count(*) FILTER (event_type = 'share')::BIGINT AS shares,"
        " count(*) FILTER (event_type = 'comment')::BIGINT AS comments,"
        " count(*) FILTER (event_type = 'report')::BIGINT AS reports,"
        " count(*) FILTER (event_type = 'skip')::BIGINT AS skips"
        f" FROM events WHERE {where} AND video_id IS NOT NULL GROUP BY ALL)",
        params,
    )


def video_totals_source(filters: Filters) -> tuple[str, list[Any], str]:
    """Like :func:`video_daily_source` for per-video sums, and the column that identifies a
    video in it: ``rollup_video_totals`` (keyed by ``video_key``) when no dimension is
    filtered and bots are left out, the per-dimension source (by ``video_id``) otherwise."""
    if not (filters.include_bots or filters.regions or filters.platforms or filters.languages):
        return (
            "(SELECT * FROM rollup_video_totals WHERE event_date BETWEEN ? AND ?)",
            [filters.start, filters.end],
            "video_key",
        )
    source, params = video_daily_source(filters)
    return source, params, "video_id"


def actor_daily_source(filters: Filters) -> tuple[str, list[Any]]:
    """A relation shaped like rollup_actor_daily for ``filters`` (events when bots count)."""
    if not filters.include_bots:
        where, params = filters.where(bots=False)
        return f"(SELECT * FROM rollup_actor_daily WHERE {where})", params
    where, params = events_where(filters)
    return (
        "(SELECT event_date, actor_key, region, platform, language, count(*)::BIGINT AS events,"
        " coalesce(sum(watched_ms), 0)::BIGINT AS watched_ms"
        f" FROM events WHERE {where} AND actor_key IS NOT NULL GROUP BY ALL)",
        params,
    )


def placeholders(values: Sequence[Any]) -> str:
    """``?, ?, ?`` for ``values``."""
    return ", ".join("?" for _ in values)
