"""``vigil demo``: load the reproducible demo data set, with progress bars."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select

from core.auth import Role, User
from core.demo import make_context
from core.settings import Settings, get_settings
from vigil.demo import DEMO_STEPS

from .admin import fail, operator_session

console = Console()

#: Clips the demo makes and uploads by default.
DEMO_VIDEOS = 8
#: Engagement events the demo sends through the collector by default, over DEMO_DAYS days.
DEMO_EVENTS = 200_000
DEMO_DAYS = 28


def _non_staff_accounts() -> int:
    query = (
        select(func.count())
        .select_from(User)
        .where(User.role.in_([Role.CREATOR.value, Role.VIEWER.value]))
    )
    with operator_session() as session:
        return int(session.scalar(query) or 0)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def load_demo(
    settings: Settings,
    *,
    seed: int,
    users: int,
    videos: int = 0,
    events: int = 0,
    days: int = DEMO_DAYS,
) -> list[str]:
    """Run every demo step in one transaction, upload ``videos`` clips through the API and the
    media pipeline, then send ``events`` engagement events over the last ``days`` days through
    the collector; returns the steps' summaries."""
    summaries: list[str] = []
    with (
        operator_session() as session,
        _progress() as progress,
    ):
        ctx = make_context(settings, session, seed=seed, users=users)
        for step in DEMO_STEPS:
            task = progress.add_task(step.description, total=step.total(ctx))
            ctx.advance = lambda n, task=task: progress.advance(task, n)
            summaries.append(f"{step.name}: {step.run(ctx)}")
    if videos:
        from vigil.demo_videos import upload_demo_videos

        with _progress() as progress:
            task = progress.add_task("videos (upload+transcode)", total=videos)
            summary = upload_demo_videos(
                settings,
                count=videos,
                seed=seed,
                progress=lambda n: progress.advance(task, n),
            )
        summaries.append(f"videos: {summary}")
        from vigil.demo_moderation import COMMENTS, run_moderation_demo

        with _progress() as progress:
            task = progress.add_task("comments (moderation)", total=len(COMMENTS))
            summary = run_moderation_demo(
                settings, seed=seed, progress=lambda n: progress.advance(task, n)
            )
        summaries.append(f"moderation: {summary}")
    if events:
        from vigil.demo_events import post_demo_events

        with _progress() as progress:
            task = progress.add_task("events (collector+lake)", total=events)
            summary = post_demo_events(
                settings,
                events=events,
                days=days,
                seed=seed,
                progress=lambda n: progress.advance(task, n),
            )
        summaries.append(f"events: {summary}")
    return summaries


def seed_if_empty(
    settings: Settings,
    *,
    seed: int = 7,
    users: int = 2000,
    videos: int = DEMO_VIDEOS,
    events: int = DEMO_EVENTS,
) -> None:
    if _non_staff_accounts():
        console.print("demo data already loaded; skipping")
        return
    for line in load_demo(settings, seed=seed, users=users, videos=videos, events=events):
        console.print(f"  {line}")


def demo(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Where embedded stores live.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same data set.")] = 7,
    users: Annotated[int, typer.Option(min=10, max=1_000_000, help="Platform accounts.")] = 2000,
    videos: Annotated[
        int,
        typer.Option(min=0, max=200, help="Clips to make with ffmpeg and upload through the API."),
    ] = DEMO_VIDEOS,
    events: Annotated[
        int,
        typer.Option(
            min=0, max=20_000_000, help="Engagement events to send through the collector."
        ),
    ] = DEMO_EVENTS,
    days: Annotated[int, typer.Option(min=1, max=30, help="Days of history the events cover.")] = (
        DEMO_DAYS
    ),
) -> None:
    """Load the demo data set into an empty database."""
    if data_dir is not None:
        os.environ["VIGIL_DATA_DIR"] = str(data_dir.resolve())
        get_settings.cache_clear()
    settings = get_settings()
    existing = _non_staff_accounts()
    if existing:
        fail(
            f"the database already has {existing} platform accounts; the demo loads into an "
            "empty one (use --data-dir with a new directory, or a new VIGIL_DATABASE_URL)"
        )
    try:
        lines = load_demo(settings, seed=seed, users=users, videos=videos, events=events, days=days)
    except RuntimeError as exc:
        fail(str(exc))
    for line in lines:
        console.print(f"  {line}")
