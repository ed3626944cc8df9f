"""``vigil events ...``: the collector's dead-letter store and the lake, for operators."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

import ingest
from analytics import Lake
from core.settings import get_settings
from core.storage import open_store_from_settings

from .admin import open_database

app = typer.Typer(help="Engagement events: rejections and the lake.", no_args_is_help=True)
console = Console()


@app.command("rejections")
def rejections(
    reason: Annotated[
        str | None, typer.Option(help="Only this reason, e.g. bad_timestamp.")
    ] = None,
    batch: Annotated[str | None, typer.Option(help="Only this batch id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Rejected events, newest first (the dead-letter store)."""
    database = open_database()
    try:
        rows = ingest.collector.list_rejections(
            database, reason=reason, batch_id=batch, limit=limit
        )
    finally:
        database.dispose()
    if as_json:
        for row in rows:
            print(
                json.dumps(
                    {
                        "received_at": row.received_at.isoformat(),
                        "batch_id": row.batch_id,
                        "source": row.source,
                        "index": row.item_index,
                        "reason": row.reason,
                        "field": row.field,
                        "message": row.message,
                        "raw": row.raw,
                    }
                )
            )
        return
    if not rows:
        console.print("no rejected events")
        return
    table = Table("received", "batch", "index", "reason", "field", "message")
    for row in rows:
        table.add_row(
            f"{row.received_at:%Y-%m-%d %H:%M:%S}",
            row.batch_id[:8],
            str(row.item_index),
            row.reason,
            row.field or "",
            escape(row.message),
        )
    console.print(table)


@app.command("lake")
def lake_status() -> None:
    """What the lake holds: days, files, events and bytes per event."""
    settings = get_settings()
    sink_lake = Lake.from_settings(open_store_from_settings(settings), settings)
    stats = sink_lake.stats()
    if not stats.events:
        console.print("the lake is empty")
        return
    console.print(
        f"{stats.events:,} events in {stats.event_files} files over {stats.days} days "
        f"({stats.first_date} to {stats.last_date}); {stats.event_bytes / 1e6:,.1f} MB, "
        f"{stats.bytes_per_event:.1f} bytes per event"
    )


@app.command("compact")
def compact(
    force: Annotated[bool, typer.Option(help="Merge every day with more than one file.")] = False,
) -> None:
    """Compact the lake now (the sink also does it every VIGIL_EVENTS__COMPACT_INTERVAL_SECONDS).

    Run it while the lake sink is stopped: the lake has one writer at a time.
    """
    settings = get_settings()
    lake = Lake.from_settings(open_store_from_settings(settings), settings)
    days = lake.compact(force=force, min_files=settings.events.compact_min_files)
    console.print(
        f"compacted {len(days)} day(s): {', '.join(d.isoformat() for d in days)}"
        if days
        else "nothing to compact"
    )
