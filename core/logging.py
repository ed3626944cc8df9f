"""Logging set up once by each entry point: text for people or JSON lines, with request ids."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import Any

#: The id of the HTTP request (or bus message) being handled, added to every log record.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(*, level: str = "INFO", fmt: str = "text", role: str | None = None) -> None:
    """Route every logger to stderr in ``fmt`` ("text" or "json"); call once per process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        prefix = f"[{role}] " if role else ""
        handler.setFormatter(
            logging.Formatter(
                f"%(asctime)s %(levelname)-7s {prefix}%(name)s: %(message)s [%(request_id)s]"
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Access lines come from Vigil's own middleware, with the route template and request id.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
