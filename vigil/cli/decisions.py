"""``vigil decisions ...``: the moderation decision log and its hash chain, for auditors."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from core.errors import VigilError
from moderation import decisions

from .admin import fail, open_database

app = typer.Typer(
    help="Moderation decisions: list them, verify their hash chain.", no_args_is_help=True
)
console = Console()


@app.command("verify")
def verify(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Walk the decision chain; exit 1 and say where when a row was edited, deleted, inserted or
    reordered. Keep the printed head hash elsewhere to notice a rewrite of the whole chain."""
    database = open_database()
    try:
        with database.session() as session:
            report = decisions.verify_chain(session)
    finally:
        database.dispose()
    if as_json:
        print(json.dumps(report.to_json()))
    elif report.ok:
        console.print(
            f"chain ok: {report.checked} decisions; head seq {report.head_seq}, "
            f"hash {report.head_hash}"
            if report.checked
            else "chain ok: no decisions yet"
        )
    else:
        typer.secho(
            f"chain broken at seq {report.first_bad_seq}: {report.problem} "
            f"({report.checked} rows read)",
            fg="red",
            err=True,
        )
    if not report.ok:
        raise typer.Exit(1)


@app.command("list")
def list_decisions(
    subject: Annotated[
        str | None, typer.Option(help="Only this subject, as TYPE:ID (video:..., comment:...).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Decisions, newest first."""
    try:
        kind, subject_id = decisions.parse_subject(subject) if subject else (None, None)
    except VigilError as exc:
        fail(exc.message)
    database = open_database()
    try:
        with database.session() as session:
            rows = decisions.list_decisions(
                session, subject_type=kind, subject_id=subject_id, limit=limit
            )
    finally:
        database.dispose()
    if as_json:
        for row in rows:
            print(json.dumps({**decisions.decision_event(row), "note": row.note}))
        return
    if not rows:
        console.print("no decisions")
        return
    table = Table("seq", "at", "subject", "action", "regions", "reason", "actor", "note")
    for row in rows:
        table.add_row(
            str(row.seq),
            f"{row.at:%Y-%m-%d %H:%M:%S}",
            f"{row.subject_type}:{row.subject_id}",
            row.action,
            ",".join(row.regions),
            row.reason_code,
            escape(row.actor),
            escape(row.note),
        )
    console.print(table)
