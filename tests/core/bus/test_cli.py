"""``vigil bus``: what an operator sees for topics, lag and dead letters, and replay."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.bus import Message, open_bus_from_settings
from core.settings import get_settings
from vigil.cli.bus import app


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bus in a fresh data dir: 4 uploads, one of which the media group dead-lettered."""
    monkeypatch.setenv("VIGIL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VIGIL_BUS__MAX_ATTEMPTS", "1")
    get_settings.cache_clear()

    async def seed() -> None:
        bus = await open_bus_from_settings(get_settings())
        await bus.ensure_topics(["video.uploaded", "comment.created"])
        await bus.publish_batch("video.uploaded", [({"n": n}, f"v{n}") for n in range(4)])
        stop = asyncio.Event()
        seen: list[int] = []

        async def handle(message: Message) -> None:
            seen.append(message.payload["n"])
            if len(seen) == 3:
                stop.set()
            if message.payload["n"] == 1:
                raise KeyError("caption_lang")

        await bus.consume("video.uploaded", "media", handle, stop=stop)
        await bus.close()

    asyncio.run(seed())
    return tmp_path


def test_topics_lists_counts_dead_letters_and_lag(seeded: Path) -> None:
    result = CliRunner().invoke(app, ["topics"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.output.splitlines() if "." in line}
    assert lines["video.uploaded"].split()[3:6] == ["4", "│", "1"]
    assert "media=1" in lines["video.uploaded"]
    assert "no groups yet" in lines["comment.created"]


def test_lag_shows_each_group(seeded: Path) -> None:
    result = CliRunner().invoke(app, ["lag", "video.uploaded"])
    assert result.exit_code == 0, result.output
    assert "video.uploaded: 4 messages" in result.output
    assert any(line.split()[1:4] == ["media", "│", "1"] for line in result.output.splitlines())


def test_dead_letters_as_json_and_replay(seeded: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["dead-letters", "video.uploaded", "--json"])
    assert result.exit_code == 0, result.output
    (letter,) = json.loads(result.stdout)
    assert letter["error"] == "KeyError: 'caption_lang'"
    assert (letter["group"], letter["attempts"], letter["key"]) == ("media", 1, "v1")
    assert letter["payload"] == {"n": 1}

    table = runner.invoke(app, ["dead-letters", "video.uploaded"])
    assert "KeyError" in table.output

    missing = runner.invoke(app, ["replay", "video.uploaded", "--id", letter["id"], "--id", "999"])
    assert missing.exit_code == 1
    assert "replayed 1 dead letter to video.uploaded" in missing.stdout
    assert "not dead letters of video.uploaded: 999" in missing.stderr
    after = runner.invoke(app, ["dead-letters", "video.uploaded", "--json"])
    assert json.loads(after.stdout) == []


def test_unknown_topic_is_one_line_and_exit_1(seeded: Path) -> None:
    result = CliRunner().invoke(app, ["lag", "video.uplaoded"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "unknown topic 'video.uplaoded'; known topics: comment.created, video.uploaded"
    )
    assert "Traceback" not in result.output


def test_unreachable_bus_names_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_BUS_URL", "nats://127.0.0.1:1")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["topics"])
    assert result.exit_code == 1
    assert "bus unavailable: NATS bus nats://127.0.0.1:1 is unreachable" in result.stderr
    assert "Traceback" not in result.output
