"""Events posted with retries, duplicates and malformed items to `vigil up`, with the whole
server killed with SIGKILL mid-stream and restarted, end up in the lake exactly once each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from analytics import Lake
from core.storage import LocalObjectStore
from tests.e2e.test_up import Running, alive, children_of, free_port, start_up

pytestmark = pytest.mark.slow

FAST_LAKE = {"VIGIL_EVENTS__FLUSH_SECONDS": "0.5"}
BATCHES = 60
PER_BATCH = 50


def _stop(run: Running) -> None:
    if run.process.poll() is None:
        run.process.terminate()
        try:
            run.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            run.process.kill()
    run.process.wait()
    time.sleep(0.1)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def _api_key(data_dir: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env["VIGIL_DATA_DIR"] = str(data_dir)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "vigil",
            "keys",
            "create",
            "--name",
            "app",
            "--scopes",
            "events:write,analytics:read",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    return next(word for word in out.split() if word.startswith("vgl_"))


def _batches() -> tuple[list[list[Any]], set[str], int]:
    """Batches of valid events with malformed items and in-batch repeats mixed in."""
    start = datetime.now(UTC) - timedelta(hours=1)
    batches: list[list[Any]] = []
    valid: set[str] = set()
    malformed = 0
    for b in range(BATCHES):
        items: list[Any] = []
        for n in range(PER_BATCH):
            event_id = str(uuid.uuid4())
            valid.add(event_id)
            items.append(
                {
                    "event_id": event_id,
                    "event_type": "watch",
                    "ts": (start + timedelta(seconds=b * PER_BATCH + n)).isoformat(),
                    "user_id": f"u{n % 9}",
                    "video_id": f"v{b % 4}",
                    "region": "DE",
                    "watched_ms": 1000,
                    "position_ms": 1000 * n,
                }
            )
        items.insert(7, {"event_id": str(uuid.uuid4()), "event_type": "watch"})  # no ts...
        items.insert(20, "not an event")
        malformed += 2
        items.append(dict(items[3]))  # a client sending the same event twice in a batch
        batches.append(items)
    return batches, valid, malformed


class Sender:
    """Sends batches in order, retrying each until it is acknowledged, from a thread."""

    def __init__(self, url: str, key: str, batches: list[list[Any]]) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {key}", "User-Agent": "VigilApp/4.1"}
        self.batches = batches
        self.acked: list[int] = []
        self.failures = 0
        self.stop = threading.Event()

    def run(self, first: int, last: int) -> None:
        with httpx.Client(timeout=10) as client:
            for index in range(first, last):
                while not self.stop.is_set():
                    try:
                        answer = client.post(
                            self.url + "/v1/events", json=self.batches[index], headers=self.headers
                        )
                    except httpx.HTTPError:
                        self.failures += 1
                        time.sleep(0.05)
                        continue
                    if answer.status_code == 200:
                        body = answer.json()
                        assert body["accepted"] == PER_BATCH, body
                        assert body["duplicates"] == 1
                        assert [r["index"] for r in body["rejected"]] == [7, 20]
                        self.acked.append(index)
                        break
                    self.failures += 1
                    time.sleep(0.05)


def _kill_everything(run: Running) -> None:
    pids = [run.process.pid, *children_of(run.process.pid)]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    run.process.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def _lake_ids(data_dir: Path) -> list[str]:
    import duckdb

    lake = Lake(LocalObjectStore(data_dir / "objects"))
    paths = [str(lake.local_path(f.key)) for f in lake.manifest().files("events")]
    if not paths:
        return []
    rows = duckdb.read_parquet(paths).select("event_id").fetchall()
    return [str(uuid.UUID(bytes=bytes(row[0]))) for row in rows]


@pytest.fixture
def first_run(data_dir: Path) -> Iterator[Running]:
    run = start_up(data_dir, free_port(), FAST_LAKE)
    yield run
    _stop(run)


def test_events_reach_the_lake_exactly_once_through_retries_and_a_kill(
    first_run: Running, data_dir: Path
) -> None:
    first_run.wait_for_line(r"admin password: (\S+)")
    first_run.wait_ready(timeout=180)
    key = _api_key(data_dir)
    batches, valid, malformed = _batches()

    # Phase 1: send while the server is killed with SIGKILL mid-stream.
    sender = Sender(first_run.url, key, batches)
    thread = threading.Thread(target=sender.run, args=(0, 40))
    thread.start()
    deadline = time.monotonic() + 60
    while len(sender.acked) < 15 and time.monotonic() < deadline:
        time.sleep(0.01)
    _kill_everything(first_run)
    acked_before_kill = list(sender.acked)
    assert len(acked_before_kill) >= 15

    # Phase 2: a new server on the same data; the sender keeps retrying what was not acked.
    second = start_up(data_dir, int(first_run.url.rsplit(":", 1)[1]), FAST_LAKE)
    try:
        second.wait_ready(timeout=180)
        thread.join(timeout=120)
        assert not thread.is_alive()
        assert sender.failures >= 1, "the kill interrupted the stream"
        # A client that lost the answers re-sends batches the server had already acknowledged.
        Sender(second.url, key, batches).run(acked_before_kill[-3], 40)
        Sender(second.url, key, batches).run(40, BATCHES)

        deadline = time.monotonic() + 90
        ids: list[str] = []
        while time.monotonic() < deadline:
            ids = _lake_ids(data_dir)
            if len(ids) >= len(valid):
                break
            time.sleep(0.5)
        time.sleep(2)  # any duplicate would be flushed by now
        ids = _lake_ids(data_dir)
        assert len(ids) == len(set(ids)), "no event reached the lake twice"
        assert set(ids) == valid, "every valid event reached the lake"

        headers = {"Authorization": f"Bearer {key}"}
        dead = httpx.get(
            second.url + "/v1/events/rejections", params={"limit": 1000}, headers=headers
        ).json()["rejections"]
        assert {r["reason"] for r in dead} == {"missing_field", "not_an_object"}
        # Every malformed item is kept, once per delivery of its batch.
        assert len(dead) >= malformed
    finally:
        _stop(second)
