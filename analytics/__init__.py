"""Engagement analytics: the event lake, its DuckDB query side, and the insight functions.

Writers use ``Lake`` (append, compact, drop_before, vacuum); readers use ``Analytics``
(``cursor()`` for the insight functions, ``sandbox_cursor()`` for analysts' own SQL with
``run_readonly_sql``). Every insight function takes a cursor and ``Filters`` and returns a tidy
polars frame.
"""

from __future__ import annotations

from .engine import Analytics, Metadata, load_metadata, open_analytics
from .errors import QueryTimeoutError
from .filters import DIMENSIONS, Filters
from .insights import (
    Overview,
    TrendSeries,
    creator_metrics,
    funnel,
    lifecycle,
    overview,
    parse_formula,
    paths,
    region_metrics,
    retention,
    retention_curve,
    stickiness,
    top_videos,
    trend,
    trend_formula,
    trending,
    trust_safety,
    video_metrics,
)
from .lake import Lake, LakeStats, Manifest
from .schema import (
    ACCOUNT_EVENT_TYPES,
    EVENT_COLUMNS,
    EVENT_SCHEMA,
    EVENT_TYPES,
    PLATFORMS,
    UTC_MICROS,
    VIDEO_EVENT_TYPES,
    EventType,
)
from .sql import run_readonly_sql

__all__ = [
    "ACCOUNT_EVENT_TYPES",
    "DIMENSIONS",
    "EVENT_COLUMNS",
    "EVENT_SCHEMA",
    "EVENT_TYPES",
    "PLATFORMS",
    "UTC_MICROS",
    "VIDEO_EVENT_TYPES",
    "Analytics",
    "EventType",
    "Filters",
    "Lake",
    "LakeStats",
    "Manifest",
    "Metadata",
    "Overview",
    "QueryTimeoutError",
    "TrendSeries",
    "creator_metrics",
    "funnel",
    "lifecycle",
    "load_metadata",
    "open_analytics",
    "overview",
    "parse_formula",
    "paths",
    "region_metrics",
    "retention",
    "retention_curve",
    "run_readonly_sql",
    "stickiness",
    "top_videos",
    "trend",
    "trend_formula",
    "trending",
    "trust_safety",
    "video_metrics",
]
