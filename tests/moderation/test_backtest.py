"""Backtesting a draft rule file over stored checks against human decisions, on both databases,
and through ``vigil policy backtest``."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.db import Database, upgrade, utcnow
from moderation.backtest import backtest
from moderation.models import Decision, ModerationCheck
from moderation.policy import Signals, load_rules
from vigil.cli.policy import app

DRAFT = """\
rules:
  - id: toxic-hold
    description: Draft - hold at a lower toxicity bar.
    mode: shadow
    when: scores.toxicity >= 0.7
    then: {action: hold, queue: "toxicity-{language}", reason_code: harassment}
  - id: toxic-remove
    description: Draft - remove very toxic content.
    mode: live
    when: scores.toxicity >= 0.9
    then: {action: remove, reason_code: harassment}
  - id: parked
    description: Not part of this backtest.
    mode: off
    when: scores.toxicity >= 0.0
    then: {action: remove, reason_code: harassment}
"""

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)

# subject: (toxicity of the current check, days ago, human decisions oldest first, system ones)
SUBJECTS: dict[str, tuple[float, float, list[str], list[str]]] = {
    "c01": (0.90, 1, ["remove"], []),  # flagged, violating
    "c02": (0.80, 2, ["remove"], []),  # flagged, violating
    "c03": (0.75, 3, ["approve"], []),  # flagged, fine
    "c04": (0.95, 1, [], ["remove"]),  # flagged, no person decided: unlabelled hit
    "c05": (0.30, 4, ["remove"], []),  # missed
    "c06": (0.20, 5, ["approve"], []),  # rightly left alone
    "c07": (0.10, 6, ["approve"], []),  # rightly left alone
    "c08": (0.85, 2, ["approve", "remove"], []),  # the latest human decision counts
    "c09": (0.90, 3, ["remove", "escalate"], []),  # escalate labels nothing
    "c10": (0.10, 1, ["approve"], []),  # an older check was toxic; the current one is not
    "c11": (0.90, 40, ["remove"], []),  # outside --since 30
    "c12": (0.50, 1, [], ["remove"]),  # the system's decisions are not labels
    "c13": (0.71, 2, ["block"], []),  # a block is violating
}


def _signals(toxicity: float) -> dict:
    return Signals(
        subject_type="comment", region="ES", language="es", scores={"toxicity": toxicity}
    ).to_json()


def seed(session) -> None:
    seq = 0
    for subject, (toxicity, days, human, system) in SUBJECTS.items():
        at = NOW - dt.timedelta(days=days)
        if subject == "c10":
            session.add(
                ModerationCheck(
                    subject_type="comment",
                    subject_id=subject,
                    content_sha256="0" * 64,
                    signals=_signals(0.72),
                    policy_version="old",
                    outcome="hold",
                    is_current=False,
                    created_at=at - dt.timedelta(hours=1),
                )
            )
        session.add(
            ModerationCheck(
                subject_type="comment",
                subject_id=subject,
                content_sha256="1" * 64,
                signals=_signals(toxicity),
                policy_version="2026.11.1+000000000000",
                outcome="publish",
                is_current=True,
                created_at=at,
            )
        )
        decisions = [("system", a) for a in system] + [("moderator-1", a) for a in human]
        for minutes, (actor, action) in enumerate(decisions):
            seq += 1
            session.add(
                Decision(
                    seq=seq,
                    subject_type="comment",
                    subject_id=subject,
                    action=action,
                    regions=["DE"] if action == "block" else ["*"],
                    reason_code="harassment",
                    actor=actor,
                    at=at + dt.timedelta(minutes=10 + minutes),
                    prev_hash=hashlib.sha256(f"{seq - 1}".encode()).hexdigest(),
                    hash=hashlib.sha256(f"{seq}".encode()).hexdigest(),
                )
            )


def test_backtest_counts_agreement_with_people(database: Database, tmp_path: Path) -> None:
    draft_file = tmp_path / "draft.yaml"
    draft_file.write_text(DRAFT)
    draft = load_rules(draft_file)
    with database.session() as session:
        seed(session)
    with database.session() as session:
        report = backtest(draft, session, since_days=30, now=NOW, sample_size=3)
        everything = backtest(draft, session, now=NOW)

    assert report.checks == 12  # current checks of the last 30 days
    assert report.flagged == 7  # c01 c02 c03 c04 c08 c09 c13
    assert report.actions == {"remove": 3, "hold": 4, "publish": 5}
    c = report.confusion
    assert (c.true_positives, c.false_positives, c.false_negatives, c.true_negatives) == (
        5,
        1,
        1,
        3,
    )
    assert report.labelled == 10
    assert report.unlabelled_hits == 1
    assert c.precision == pytest.approx(5 / 6)
    assert c.recall == pytest.approx(5 / 6)
    assert c.f1 == pytest.approx(5 / 6)
    assert c.agreement == pytest.approx(8 / 10)

    by_rule = {r.rule_id: r for r in report.rules}
    assert set(by_rule) == {"toxic-hold", "toxic-remove"}  # off rules are not run
    remove = by_rule["toxic-remove"]
    assert (remove.hits, remove.unlabelled_hits, remove.mode) == (3, 1, "live")
    assert remove.confusion.precision == 1.0
    assert remove.confusion.recall == pytest.approx(2 / 6)
    assert by_rule["toxic-hold"].hits == 7  # shadow rules count in a backtest

    assert len(report.samples) == 3
    newest = report.samples[0]
    assert (newest.subject_id, newest.outcome) in {("c01", "remove"), ("c04", "remove")}
    assert newest.scores == {"toxicity": pytest.approx(0.9 if newest.subject_id == "c01" else 0.95)}
    [miss] = report.misses
    assert (miss.subject_id, miss.human, miss.outcome) == ("c05", "remove", "publish")

    assert everything.checks == 13
    assert everything.confusion.true_positives == 6  # c11 joins


def test_a_draft_on_an_empty_database_reports_nothing_to_compare(database: Database) -> None:
    draft = load_rules_text(DRAFT)
    with database.session() as session:
        report = backtest(draft, session)
    assert (report.checks, report.flagged, report.labelled) == (0, 0, 0)
    assert report.confusion.precision is None
    assert report.confusion.agreement is None


def load_rules_text(text: str):
    from moderation.policy import parse_policy

    return parse_policy(text, source="draft.yaml", draft=True)


runner = CliRunner()


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("VIGIL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    url = f"sqlite:///{tmp_path / 'vigil.db'}"
    upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def test_vigil_policy_backtest_prints_agreement(cli_database: Database, tmp_path: Path) -> None:
    with cli_database.session() as session:
        seed(session)
    draft_file = tmp_path / "draft.yaml"
    draft_file.write_text(DRAFT)

    result = runner.invoke(app, ["backtest", str(draft_file), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["file"] == str(draft_file)
    assert data["checks"] == 13  # --since not given; NOW is in the past of the real clock
    assert data["confusion"] == {
        "flagged_violating": 6,
        "flagged_fine": 1,
        "not_flagged_violating": 1,
        "not_flagged_fine": 3,
    }
    assert data["precision"] == pytest.approx(6 / 7)
    assert data["recall"] == pytest.approx(6 / 7)
    assert data["unlabelled_hits"] == 1

    days = (utcnow() - NOW).total_seconds() / 86400
    result = runner.invoke(app, ["backtest", str(draft_file), "--since", f"{days + 30:.3f}"])
    assert result.exit_code == 0, result.output
    assert "over 12 current checks" in result.output
    assert "would act on 7: remove 3, hold 4" in result.output
    assert "10 labelled, 1 hits unlabelled" in result.output
    assert "precision 0.833  recall 0.833  F1 0.833  agreement 0.800" in result.output
    assert "toxic-remove" in result.output
    assert "missed:" in result.output


def test_vigil_policy_backtest_names_the_problem_in_a_bad_draft(
    cli_database: Database, tmp_path: Path
) -> None:
    draft_file = tmp_path / "draft.yaml"
    draft_file.write_text(DRAFT.replace("scores.toxicity >= 0.9", "scores.toxicty >= 0.9"))
    result = runner.invoke(app, ["backtest", str(draft_file)])
    assert result.exit_code == 1
    assert f"{draft_file}:10: rule 'toxic-remove': when: unknown score 'scores.toxicty'" in (
        result.output
    )
    assert "did you mean 'toxicity'?" in result.output


def test_vigil_policy_validate_a_draft(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    draft_file = tmp_path / "draft.yaml"
    draft_file.write_text(DRAFT)
    result = runner.invoke(app, ["validate", str(draft_file)])
    assert result.exit_code == 0, result.output
    assert "draft rule file" in result.output
    assert "is valid: version draft+" in result.output
    draft_file.write_text(DRAFT.replace("mode: off", "mode: paused"))
    result = runner.invoke(app, ["validate", str(draft_file)])
    assert result.exit_code == 1
    assert "mode 'paused' is not a mode" in result.output
