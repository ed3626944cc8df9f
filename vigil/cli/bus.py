"""``vigil bus``: look at topics, lag and dead letters; replay dead letters.

Reads the configured bus (``VIGIL_BUS_URL``, else SQLite in the data directory). An unknown
topic or an unreachable bus ends the command with one readable line and exit code 1.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from core.bus import (
    Bus,
    BusUnavailableError,
    UnknownTopicError,
    dead_letter_topic,
    open_bus_from_settings,
)
from core.settings import get_settings

T = TypeVar("T")

app = typer.Typer(help="The bus: topics, lag, dead letters.", no_args_is_help=True)
console = Console()


def _fail(message: str) -> None:
    typer.secho(message, fg="red", err=True)
    raise typer.Exit(1)


def _with_bus(work: Callable[[Bus], Awaitable[T]]) -> T:
    """Open the configured bus, run ``work`` on it, close it; errors become one line."""
    settings = get_settings()

    async def main() -> T:
        bus = await open_bus_from_settings(settings)
        try:
            return await work(bus)
        finally:
            await bus.close()

    try:
        return asyncio.run(main())
    except UnknownTopicError as exc:
        _fail(exc.message)
    except BusUnavailableError as exc:
        _fail(f"bus unavailable: {exc.message}")
    raise AssertionError("unreachable")  # _fail always exits


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


TopicArgument = Annotated[str, typer.Argument(help="Topic name, e.g. video.uploaded.")]


@app.command("topics")
def topics() -> None:
    """Every topic with its message count, dead letters and lag per consumer group."""

    async def work(bus: Bus) -> Table:
        table = Table("topic", "messages", "dead letters", "lag by group")
        for topic in await bus.topics():
            stats = await bus.stats(topic)
            dead = await bus.stats(dead_letter_topic(topic))
            lag = ", ".join(f"{group}={value}" for group, value in stats.groups.items())
            table.add_row(topic, str(stats.messages), str(dead.messages), lag or "no groups yet")
        return table

    table = _with_bus(work)
    if table.row_count == 0:
        console.print("no topics declared yet (workers declare theirs when they start)")
        return
    console.print(table)


@app.command("lag")
def lag(topic: TopicArgument) -> None:
    """Messages each consumer group of TOPIC has not acknowledged yet."""
    stats = _with_bus(lambda bus: bus.stats(topic))
    if not stats.groups:
        console.print(f"{topic}: {stats.messages} messages, no consumer group has read it yet")
        return
    console.print(f"{topic}: {stats.messages} messages")
    table = Table("group", "lag")
    for group, value in stats.groups.items():
        table.add_row(group, str(value))
    console.print(table)


@app.command("dead-letters")
def dead_letters(
    topic: TopicArgument,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Oldest N.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array, for scripts.")] = False,
) -> None:
    """TOPIC's dead letters, oldest first: the error, attempts and the group that gave up."""
    letters = _with_bus(lambda bus: bus.dead_letters(topic, limit=limit))
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(d) for d in letters], ensure_ascii=False))
        return
    if not letters:
        console.print(f"{topic} has no dead letters")
        return
    table = Table("id", "group", "attempts", "failed at", "key", "error", "payload")
    for letter in letters:
        table.add_row(
            letter.id,
            letter.group,
            str(letter.attempts),
            _when(letter.failed_at),
            letter.key or "",
            _clip(letter.error, 80),
            _clip(json.dumps(letter.payload, ensure_ascii=False), 60),
        )
    console.print(table)


@app.command("replay")
def replay(
    topic: TopicArgument,
    ids: Annotated[
        list[str] | None,
        typer.Option("--id", help="Replay only this dead letter (repeatable); default all."),
    ] = None,
) -> None:
    """Publish TOPIC's dead letters again, for the group that gave up on them, and remove them."""

    async def work(bus: Bus) -> tuple[int, list[str]]:
        missing: list[str] = []
        if ids:
            present = {d.id for d in await bus.dead_letters(topic, limit=1_000_000)}
            missing = [i for i in ids if i not in present]
        return await bus.replay_dead_letters(topic, ids=ids or None), missing

    count, missing = _with_bus(work)
    console.print(f"replayed {count} dead letter{'s' if count != 1 else ''} to {topic}")
    if missing:
        _fail(f"not dead letters of {topic}: {', '.join(missing)}")
