"""`vigil up` as a user runs it: a real supervisor, API and worker processes on a free port."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[1][0] != "Z"


@dataclass
class Running:
    process: subprocess.Popen[str]
    url: str
    output: list[str]

    def wait_for_line(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        seen = 0
        while time.monotonic() < deadline:
            while seen < len(self.output):
                match = regex.search(self.output[seen])
                seen += 1
                if match:
                    return match
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r}; output:\n{''.join(self.output)}")

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = httpx.get(self.url + "/readyz", timeout=2)
                if last.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"not ready: {last and last.text}\n{''.join(self.output)}")


def start_up(data_dir: Path, port: int, extra_env: dict[str, str] | None = None) -> Running:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update({"COLUMNS": "200", "PYTHONUNBUFFERED": "1", **(extra_env or {})})
    process = subprocess.Popen(
        [sys.executable, "-m", "vigil", "up", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    output: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                output.append(line)

    threading.Thread(target=pump, daemon=True).start()
    return Running(process, f"http://127.0.0.1:{port}", output)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    run = start_up(tmp_path / "data", free_port())
    yield run
    if run.process.poll() is None:
        run.process.kill()
    run.process.wait()
    time.sleep(0.1)  # let the reader thread reach the end of the pipe and close it


def test_up_prints_url_and_admin_and_serves(running: Running, tmp_path: Path) -> None:
    running.wait_for_line(re.escape(running.url))
    password = running.wait_for_line(r"admin password: (\S+)").group(1)
    running.wait_ready()

    token = httpx.post(
        running.url + "/v1/auth/token", data={"username": "admin", "password": password}
    )
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert httpx.get(running.url + "/v1/me", headers=headers).json()["role"] == "admin"

    # The dashboards share the user store: sign in on the login page, land on a console.
    with httpx.Client(base_url=running.url) as browser:
        assert browser.get("/review").status_code == 303  # no session yet
        signed_in = browser.post("/login", data={"username": "admin", "password": password})
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/review"
        page = browser.get("/review")
        assert page.status_code == 200
        assert "_dash-config" in page.text

    # The roles declared every room's topics on the shared bus.
    topics = subprocess.run(
        [sys.executable, "-m", "vigil", "bus", "topics"],
        env={**os.environ, "VIGIL_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert topics.returncode == 0, topics.stderr
    for topic in ("video.uploaded", "video.transcoded", "comment.created", "moderation.decided"):
        assert topic in topics.stdout

    # Metrics from every process of the group (API here; workers write to the same dir).
    metrics = httpx.get(running.url + "/metrics", headers=headers).text
    assert 'vigil_http_requests_total{method="GET",route="/v1/me",status="200"}' in metrics


def test_up_restarts_a_crashed_role_and_stops_cleanly(running: Running, tmp_path: Path) -> None:
    running.wait_ready()
    supervisor = running.process.pid
    first_children = children_of(supervisor)
    assert len(first_children) == 2  # api and worker
    api_pid = next(
        pid for pid in first_children if "api" in Path(f"/proc/{pid}/cmdline").read_text()
    )
    os.kill(api_pid, signal.SIGKILL)
    running.wait_for_line(r"api exited with code -9")
    running.wait_ready()
    restarted = children_of(supervisor)
    assert api_pid not in restarted
    assert len(restarted) == 2

    grandchildren = [g for c in restarted for g in children_of(c)]
    running.process.send_signal(signal.SIGTERM)
    assert running.process.wait(timeout=30) == 0
    for pid in restarted + grandchildren:
        assert not alive(pid), f"process {pid} outlived the supervisor"


def test_second_start_keeps_the_admin_and_prints_no_password(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_up(data_dir, free_port())
    first.wait_for_line(r"admin password: (\S+)")
    first.wait_ready()
    first.process.send_signal(signal.SIGINT)
    assert first.process.wait(timeout=30) == 0

    second = start_up(data_dir, free_port())
    try:
        second.wait_for_line(r"sign in with an existing account")
        second.wait_ready()
        assert not any("admin password" in line for line in second.output)
    finally:
        second.process.send_signal(signal.SIGTERM)
        second.process.wait(timeout=30)
        time.sleep(0.1)


def test_up_refuses_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "vigil", "up", "--data-dir", str(tmp_path), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")},
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
