"""``vigil decisions verify|list`` as an auditor runs them (the real CLI parser, in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from core.db import Database, upgrade
from moderation import decisions
from tests.moderation.test_cases_data import World, build_world
from vigil.cli.decisions import app

runner = CliRunner()


@pytest.fixture
def cli_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("VIGIL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    url = f"sqlite:///{tmp_path / 'vigil.db'}"
    upgrade(url)
    db = Database(url)
    yield build_world(db, viewers=0)  # type: ignore[misc]
    db.dispose()


def invoke(*args: str) -> tuple[int, str]:
    from core.settings import get_settings

    get_settings.cache_clear()
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _record(w: World, action: str, subject: str = "video") -> None:
    with w.db.session() as session:
        decisions.record_decision(
            session,
            subject_type=subject,
            subject_id=w.video_id if subject == "video" else w.comment_id,
            action=action,
            reason_code="hate",
            note=f"{action} note",
        )


def test_verify_says_ok_then_where_it_breaks(cli_world: World) -> None:
    assert invoke("verify") == (0, "chain ok: no decisions yet\n")
    for action in ("hold", "remove", "approve"):
        _record(cli_world, action)
    code, output = invoke("verify")
    assert code == 0
    assert output.startswith("chain ok: 3 decisions; head seq 3, hash ")
    code, output = invoke("verify", "--json")
    report = json.loads(output)
    assert code == 0
    assert report["ok"]
    assert report["checked"] == 3

    with cli_world.db.engine.begin() as connection:
        connection.execute(text("UPDATE decisions SET reason_code = 'spam' WHERE seq = 2"))
    code, output = invoke("verify")
    assert code == 1
    assert "chain broken at seq 2: seq 2: hash does not match the row's content (edited)" in output
    code, output = invoke("verify", "--json")
    assert code == 1
    assert json.loads(output)["first_bad_seq"] == 2


def test_list_by_subject(cli_world: World) -> None:
    _record(cli_world, "remove")
    _record(cli_world, "hold", subject="comment")
    code, output = invoke("list", "--subject", f"comment:{cli_world.comment_id}", "--json")
    lines = [json.loads(line) for line in output.splitlines()]
    assert code == 0
    assert [(d["seq"], d["action"], d["note"]) for d in lines] == [(2, "hold", "hold note")]
    code, output = invoke("list")
    assert code == 0
    assert "remove" in output
    assert "hold" in output
    code, output = invoke("list", "--subject", "user:1")
    assert code == 1
    assert "subject must be TYPE:ID" in output
