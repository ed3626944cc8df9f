"""Insight queries over the analytics relations: each takes a DuckDB cursor and Filters and
returns a tidy polars frame (overview returns a dataclass of them)."""

from __future__ import annotations

from .engagement import lifecycle, paths, stickiness
from .funnels import funnel
from .overview import Overview, overview
from .regions import region_metrics, trust_safety
from .retention import retention
from .trends import TrendSeries, parse_formula, trend, trend_formula
from .videos import creator_metrics, retention_curve, top_videos, trending, video_metrics

__all__ = [
    "Overview",
    "TrendSeries",
    "creator_metrics",
    "funnel",
    "lifecycle",
    "overview",
    "parse_formula",
    "paths",
    "region_metrics",
    "retention",
    "retention_curve",
    "stickiness",
    "top_videos",
    "trend",
    "trend_formula",
    "trending",
    "trust_safety",
    "video_metrics",
]
