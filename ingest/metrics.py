"""Prometheus metrics of uploads and the media worker (``vigil_ingest_*``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_SECONDS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200)

TRANSCODE_SECONDS = Histogram(
    "vigil_ingest_transcode_seconds",
    "Wall time of the media pipeline per video (probe, one-pass ladder, artefacts, hashes), "
    "by the top rung of its ladder.",
    ["top_rung"],
    buckets=_SECONDS,
)
REALTIME_FACTOR = Histogram(
    "vigil_ingest_transcode_realtime_factor",
    "Video duration divided by pipeline wall time (above 1 is faster than realtime).",
    buckets=(0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10),
)
QUEUE_LAG_SECONDS = Histogram(
    "vigil_ingest_video_queue_seconds",
    "Time from the end of an upload to the start of its processing.",
    buckets=(0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900),
)
VIDEOS_TOTAL = Counter(
    "vigil_ingest_videos_total",
    "Videos that finished processing, by outcome (ready, failed).",
    ["outcome"],
)
FAILURES_TOTAL = Counter(
    "vigil_ingest_video_failures_total",
    "Uploads and videos refused or failed, by reason (too_large, video_codec_not_allowed...).",
    ["stage", "reason"],
)
STORED_BYTES_TOTAL = Counter(
    "vigil_ingest_stored_bytes_total",
    "Bytes written to the object store, by kind (original, rendition, artefact).",
    ["kind"],
)
UPLOADED_BYTES_TOTAL = Counter(
    "vigil_ingest_uploaded_bytes_total", "Bytes received from uploaders, by protocol.", ["protocol"]
)
UPLOADS_IN_PROGRESS = Gauge(
    "vigil_ingest_uploads_in_progress",
    "Resumable uploads started and neither completed, terminated nor expired.",
    multiprocess_mode="mostrecent",
)

# -- engagement events -------------------------------------------------------------------------

EVENTS_TOTAL = Counter(
    "vigil_ingest_events_total",
    "Engagement events received by the collector, by outcome (accepted, rejected, duplicate: a "
    "repeat of an event id inside one batch).",
    ["outcome"],
)
EVENTS_REJECTED_TOTAL = Counter(
    "vigil_ingest_events_rejected_total",
    "Engagement events rejected, by reason (missing_field, bad_timestamp, unknown_field...).",
    ["reason"],
)
EVENTS_FLAGGED_TOTAL = Counter(
    "vigil_ingest_events_flagged_total",
    "Accepted events flagged, by flag (bot, clamped: the client time was out of bounds).",
    ["flag"],
)
EVENT_BATCHES_TOTAL = Counter(
    "vigil_ingest_event_batches_total",
    "Event batches, by outcome (accepted, refused: unreadable or over a limit).",
    ["outcome"],
)
LAKE_EVENTS = Counter("vigil_ingest_lake_events_total", "Events written to the lake by the sink.")
LAKE_DUPLICATES = Counter(
    "vigil_ingest_lake_duplicates_total",
    "Events the sink dropped because their id was already in the lake (client retries).",
)
LAKE_FLUSH_SECONDS = Histogram(
    "vigil_ingest_lake_flush_seconds",
    "Time of one sink flush (Parquet files, rollups, manifest).",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
LAKE_COMPACTION_SECONDS = Histogram(
    "vigil_ingest_lake_compaction_seconds",
    "Time of one compaction round.",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
LAKE_BYTES = Gauge(
    "vigil_ingest_lake_bytes",
    "Bytes of live event files in the lake.",
    multiprocess_mode="mostrecent",
)
LAKE_FILES = Gauge(
    "vigil_ingest_lake_files",
    "Live event files in the lake (many small ones mean compaction is behind).",
    multiprocess_mode="mostrecent",
)
