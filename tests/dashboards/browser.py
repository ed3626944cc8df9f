"""What the browser tests share: Debian's Chromium under Playwright, and the app served on a
free port from a thread."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from core.settings import Settings
from tests.conftest import need_service
from tests.e2e.test_up import free_port
from vigil.server import build_app

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (never a downloaded browser: `playwright install` needs a network)."""
    if not Path(CHROMIUM).exists():
        need_service("chromium", "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield instance
        instance.close()


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """Vigil's app (API and dashboards) on a free port; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(build_app(settings), host="127.0.0.1", port=port, log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
