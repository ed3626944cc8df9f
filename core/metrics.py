"""Prometheus metrics: exposition that works across worker processes, and HTTP middleware.

Several processes (uvicorn workers, bus workers under ``vigil up``) write to one directory named by
``PROMETHEUS_MULTIPROC_DIR``; the entry point sets it before any metric is created, and
``render_latest`` aggregates every process's samples. Labels come from bounded sets only: the
route template, never the raw path.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

HTTP_REQUESTS = Counter(
    "vigil_http_requests_total",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "vigil_http_request_seconds",
    "Time from request start to the end of the response body.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
HTTP_IN_PROGRESS = Gauge(
    "vigil_http_requests_in_progress",
    "Requests being handled now.",
    ["method"],
    multiprocess_mode="livesum",
)

UNMATCHED_ROUTE = "<unmatched>"


def prepare_multiprocess_dir(path: Path) -> Path:
    """Empty ``path`` for a new process group and point this process (and its children) at it.

    Must run before ``prometheus_client`` creates any metric in the child processes.
    """
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    return path


def mark_process_dead(pid: int) -> None:
    """Drop a finished process's live gauges from the aggregate."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def render_latest() -> tuple[bytes, str]:
    """The exposition text of this process, or of every process sharing the multiprocess dir."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def route_template(scope: Scope) -> str:
    """The matched route's template (``/v1/users/{user_id}``) or mount path, never the raw path."""
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        root = scope.get("root_path", "")
        return path or root or "/"
    return UNMATCHED_ROUTE


class MetricsMiddleware:
    """Pure ASGI middleware: request count, latency and in-flight gauge per route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        in_progress = HTTP_IN_PROGRESS.labels(method)
        in_progress.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            in_progress.dec()
            route = route_template(scope)
            HTTP_REQUESTS.labels(route, method, str(status)).inc()
            HTTP_SECONDS.labels(route, method).observe(time.perf_counter() - start)
