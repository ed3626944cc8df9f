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
