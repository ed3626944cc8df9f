"""The operator commands, run as an operator would (in-process through the real CLI parser)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

import ingest
from core import auth
from core.auth import User
from core.db import Database
from feed import Follow
from vigil.cli import app

runner = CliRunner()


@pytest.fixture
def data_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VIGIL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    from core.settings import get_settings

    get_settings.cache_clear()
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_users_create_needs_a_migrated_database(data_env: Path) -> None:
    code, output = invoke("users", "create", "--name", "ana", "--role", "moderator")
    assert code == 1
    assert "run `vigil db upgrade` first" in output


def test_users_and_keys_print_their_secret_once(data_env: Path) -> None:
    assert invoke("db", "upgrade")[0] == 0
    code, output = invoke("users", "create", "--name", "ana", "--role", "moderator")
    assert code == 0, output
    password = output.split("password (shown once): ")[1].split()[0]
    database = Database(f"sqlite:///{data_env / 'vigil.db'}")
    with database.session() as session:
        assert auth.authenticate(session, name="ana", password=password).role == "moderator"

    code, output = invoke("users", "create", "--name", "ana", "--role", "moderator")
    assert code == 1
    assert "a user named 'ana' exists already" in output
    code, output = invoke("users", "create", "--name", "bo", "--role", "owner")
    assert code == 1
    assert "unknown role 'owner'" in output

    code, output = invoke(
        "keys", "create", "--name", "ios-app", "--scopes", "events:write,feed:read"
    )
    assert code == 0, output
    key = output.split("key (shown once): ")[1].split()[0]
    with database.session() as session:
        principal = auth.principal_from_api_key(session, key=key)
        assert principal.scopes == {auth.Scope.EVENTS_WRITE, auth.Scope.FEED_READ}
    code, output = invoke("keys", "create", "--name", "x", "--scopes", "events:write,root")
    assert code == 1
    assert "unknown scope(s) root" in output
    database.dispose()


def test_config_show_masks_secrets(data_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_AUTH__SECRET_KEY", "a-very-secret-value-that-must-not-print")
    code, output = invoke("config", "show", "--json")
    assert code == 0
    data = json.loads(output)
    assert data["auth"]["secret_key"] == "**********"
    assert "a-very-secret" not in output
    code, output = invoke("config", "show")
    assert "VIGIL_BUS__MAX_ATTEMPTS" in output
    assert "a-very-secret" not in output


def test_demo_is_reproducible_and_shaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    snapshots = []
    for run in ("a", "b"):
        monkeypatch.setenv("VIGIL_DATA_DIR", str(tmp_path / run))
        assert invoke("db", "upgrade")[0] == 0
        code, output = invoke("demo", "--seed", "3", "--users", "600", "--videos", "0")
        assert code == 0, output
        database = Database(f"sqlite:///{tmp_path / run / 'vigil.db'}")
        with database.session() as session:
            users = session.execute(
                select(User.id, User.name, User.country, User.language).order_by(User.id)
            ).all()
            follows = session.execute(
                select(Follow.follower_id, Follow.followee_id).order_by(
                    Follow.follower_id, Follow.followee_id
                )
            ).all()
            in_degree = sorted(
                session.scalars(
                    select(func.count()).select_from(Follow).group_by(Follow.followee_id)
                ).all(),
                reverse=True,
            )
        database.dispose()
        snapshots.append((users, follows))
        assert len(users) == 600
        assert len({u.country for u in users}) >= 8
        assert len({u.language for u in users}) >= 6
        # Power law: the top 10% of creators hold far more than 10% of the follows.
        top = in_degree[: max(1, len(in_degree) // 10)]
        assert sum(top) / sum(in_degree) > 0.35
        # A second demo into the same database is refused, naming what to do.
        code, output = invoke("demo", "--seed", "3", "--users", "600")
        assert code == 1
        assert "already has 600 platform accounts" in output
    assert snapshots[0] == snapshots[1]


def test_unknown_setting_stops_the_command(data_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    env = {"VIGIL_DATA_DIR": str(data_env), "VIGIL_HTTP__PROT": "1", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "vigil", "config", "show"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "VIGIL_HTTP__PROT: unknown setting; did you mean VIGIL_HTTP__PORT?" in result.stderr


@pytest.mark.slow
def test_demo_uploads_clips_through_the_api_and_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is needed: apt-get install ffmpeg")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("VIGIL_DATA_DIR", str(tmp_path))
    assert invoke("db", "upgrade")[0] == 0
    code, output = invoke("demo", "--users", "40", "--videos", "3", "--events", "3000")
    assert code == 0, output
    assert "videos: 3 ready (via the API)" in output
    assert "written to the lake" in output
    database = Database(f"sqlite:///{tmp_path / 'vigil.db'}")
    with database.session() as session:
        videos = session.scalars(select(ingest.Video)).all()
        assert len(videos) == 3
        shapes = set()
        for video in videos:
            assert video.state == "ready"
            assert video.hashtags
            assert video.outputs["rungs"]
            assert ingest.frame_hashes(session, video.id)
            shapes.add(video.width > video.height)
        assert shapes == {True, False}  # portrait and landscape clips
    database.dispose()
