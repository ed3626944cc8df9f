"""Engagement analytics: the event lake, its DuckDB query side, and the insight functions.

Writers use ``Lake`` (append, compact, drop_before, vacuum); readers use ``Analytics``
(``cursor()`` for the insight functions, ``sandbox_cursor()`` for analysts' own SQL).
"""

from __future__ import annotations

from .engine import Analytics, Metadata, load_metadata
from .filters import DIMENSIONS, Filters
from .lake import Lake, LakeStats, Manifest
from .schema import (
    ACCOUNT_EVENT_TYPES,
    EVENT_COLUMNS,
    EVENT_SCHEMA,
    EVENT_TYPES,
    PLATFORMS,
    VIDEO_EVENT_TYPES,
    EventType,
)

__all__ = [
    "ACCOUNT_EVENT_TYPES",
    "DIMENSIONS",
    "EVENT_COLUMNS",
    "EVENT_SCHEMA",
    "EVENT_TYPES",
    "PLATFORMS",
    "VIDEO_EVENT_TYPES",
    "Analytics",
    "EventType",
    "Filters",
    "Lake",
    "LakeStats",
    "Manifest",
    "Metadata",
    "load_metadata",
]
