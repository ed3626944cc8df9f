"""``vigil banks ...`` as a policy admin runs it (the real CLI parser, in-process, on SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ingest
from core import auth
from core.db import Database, upgrade
from ingest.media import parse_vpdq_lines
from tests.conftest import SHARED_DIR
from vigil.cli.banks import app

runner = CliRunner()
VPDQ_DIR = SHARED_DIR / "eval" / "phash" / "vpdq_expected"
PDQ_IMAGES = SHARED_DIR / "eval" / "phash" / "pdq_images"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    if not VPDQ_DIR.is_dir():
        pytest.skip(f"the shared eval set is missing: {VPDQ_DIR}")
    monkeypatch.setenv("VIGIL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    url = f"sqlite:///{tmp_path / 'vigil.db'}"
    upgrade(url)
    db = Database(url)
    yield db  # type: ignore[misc]
    db.dispose()


def invoke(*args: str) -> tuple[int, str]:
    from core.settings import get_settings

    get_settings.cache_clear()
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _entry_id(output: str) -> str:
    return output.split("entry ")[1].split()[0]


def test_create_add_match_disable_remove(database: Database) -> None:
    assert invoke("create", "known-bad", "--description", "test footage")[0] == 0
    code, output = invoke("create", "benign", "--negative")
    assert code == 0
    assert "created negative hash bank benign" in output

    code, output = invoke(
        "add", "known-bad", "--vpdq", str(VPDQ_DIR / "chair-orig-22-sd-bar.txt"), "--label", "chair"
    )
    assert code == 0, output
    assert "a video of 673 frame hashes" in output
    chair = _entry_id(output)
    code, output = invoke(
        "add", "known-bad", "--file", str(PDQ_IMAGES / "bridge-mods" / "aaa-orig.jpg")
    )
    assert code == 0, output
    assert "1 image hash" in output
    bridge = _entry_id(output)

    code, output = invoke("list", "--json")
    rows = {row["name"]: row for row in map(json.loads, output.splitlines())}
    assert rows["known-bad"]["entries"] == 2
    assert rows["benign"]["negative"] is True
    code, output = invoke("list")
    assert "known-bad" in output
    assert "positive" in output

    # A near-duplicate: the evidence names the bank, the entry, distances and frames.
    code, output = invoke("match", "--vpdq", str(VPDQ_DIR / "chair-19-sd-bar.txt"))
    assert code == 0, output
    assert f"known-bad entry {chair} (chair), video (vPDQ): best distance 0" in output
    assert "100.0% of the query's frames match" in output
    assert "and 554 more matching frames" in output
    code, output = invoke(
        "match", "--vpdq", str(VPDQ_DIR / "pattern-hd-no-bar.txt"), "--json", "--max-frames", "1"
    )
    assert json.loads(output)["matches"] == []

    # Images, with rotations.
    rotated = str(PDQ_IMAGES / "reg-test-input" / "dih" / "bridge-2-rotate-90.jpg")
    assert "no match in the positive banks" in invoke("match", "--file", rotated)[1]
    code, output = invoke("match", "--file", rotated, "--rotations", "--json")
    (match,) = json.loads(output)["matches"]
    assert (match["entry_id"], match["transform"]) == (bridge, "rotate270")

    # Disabled, enabled, suppressed, removed.
    assert invoke("disable", chair)[0] == 0
    query = str(VPDQ_DIR / "chair-22-sd-sepia-bar.txt")
    assert json.loads(invoke("match", "--vpdq", query, "--json")[1])["matches"] == []
    assert invoke("enable", chair)[0] == 0
    code, output = invoke(
        "add", "benign", "--vpdq", str(VPDQ_DIR / "chair-22-sd-grey-bar.txt"), "--label", "ok"
    )
    benign = _entry_id(output)
    code, output = invoke("match", "--vpdq", query)
    assert "suppressed by negative banks" in output
    assert f"suppressed by negative entries: {benign}" in output
    assert "no match in the positive banks" in output
    assert invoke("remove", benign)[0] == 0
    assert json.loads(invoke("match", "--vpdq", query, "--json")[1])["banks"] == ["known-bad"]

    code, output = invoke("entries", "known-bad", "--json")
    assert {row["id"] for row in map(json.loads, output.splitlines())} == {chair, bridge}
    assert invoke("disable-bank", "known-bad")[0] == 0
    assert json.loads(invoke("match", "--vpdq", query, "--json")[1])["entries_searched"] == 0
    code, output = invoke("delete-bank", "known-bad")
    assert code == 1
    assert "has 2 entries" in output
    assert (
        "deleted hash bank known-bad and 2 entries"
        in invoke("delete-bank", "known-bad", "--force")[1]
    )


def test_a_platform_video_is_added_and_matched_by_id(database: Database) -> None:
    frames = parse_vpdq_lines((VPDQ_DIR / "pattern-sd-grey-bar.txt").read_text().splitlines())
    with database.session() as session:
        creator, _ = auth.create_user(session, name="maker", role="creator")
        video = ingest.Video(creator_id=creator.id, state="ready")
        session.add(video)
        session.flush()
        session.add_all(
            ingest.VideoFrameHash(
                video_id=video.id,
                frame_number=f.frame_number,
                timestamp_s=f.timestamp,
                quality=f.quality,
                pdq=f.pdq_hex,
            )
            for f in frames[::30]
        )
        video_id = video.id
    assert invoke("create", "known-bad")[0] == 0
    code, output = invoke(
        "add", "known-bad", "--vpdq", str(VPDQ_DIR / "pattern-sd-with-small-logo-bar.txt")
    )
    assert code == 0, output
    code, output = invoke("match", "--video", video_id, "--json")
    data = json.loads(output)
    assert data["banks"] == ["known-bad"]
    assert data["query_frames"] == 7
    code, output = invoke("add", "known-bad", "--video", video_id, "--label", "upload")
    assert code == 0, output
    assert "a video of 7 frame hashes" in output


def test_mistakes_are_explained(database: Database, tmp_path: Path) -> None:
    code, output = invoke("add", "nope", "--pdq", "ab" * 32)
    assert code == 1
    assert "no hash bank 'nope'; banks: none (create one first)" in output
    assert invoke("create", "known-bad")[0] == 0
    code, output = invoke("add", "known-bad", "--pdq", "ab" * 31)
    assert code == 1
    assert "pdq: a PDQ hash is 64 hexadecimal digits (256 bits); got 62 characters" in output
    code, output = invoke("add", "known-bad")
    assert code == 1
    assert "give exactly one of --pdq, --vpdq, --video, --file" in output
    bad = tmp_path / "bad.txt"
    bad.write_text("0,100," + "ab" * 32 + ",0.0\nnot a line\n")
    code, output = invoke("add", "known-bad", "--vpdq", str(bad))
    assert code == 1
    assert "vpdq: not vPDQ text form: line 2" in output
    code, output = invoke("add", "known-bad", "--vpdq", str(tmp_path / "missing.txt"))
    assert code == 1
    assert "--vpdq: cannot read" in output
    code, output = invoke("create", "Known Bad")
    assert code == 1
    assert "is not a bank name" in output
    code, output = invoke("disable", "0" * 32)
    assert code == 1
    assert "no hash bank entry" in output
