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


def _non_staff_accounts() -> int:
    query = (
        select(func.count())
        .select_from(User)
        .where(User.role.in_([Role.CREATOR.value, Role.VIEWER.value]))
    )
    with operator_session() as session:
        return int(session.scalar(query) or 0)


def load_demo(settings: Settings, *, seed: int, users: int) -> list[str]:
    """Run every demo step in one transaction; returns the steps' summaries."""
    summaries: list[str] = []
    with (
        operator_session() as session,
        Progress(
            TextColumn("[bold]{task.description:<24}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        ctx = make_context(settings, session, seed=seed, users=users)
        for step in DEMO_STEPS:
            task = progress.add_task(step.description, total=step.total(ctx))
            ctx.advance = lambda n, task=task: progress.advance(task, n)
            summaries.append(f"{step.name}: {step.run(ctx)}")
    return summaries


def seed_if_empty(settings: Settings, *, seed: int = 7, users: int = 2000) -> None:
    if _non_staff_accounts():
        console.print("demo data already loaded; skipping")
        return
    for line in load_demo(settings, seed=seed, users=users):
        console.print(f"  {line}")


def demo(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Where embedded stores live.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same data set.")] = 7,
    users: Annotated[int, typer.Option(min=10, max=1_000_000, help="Platform accounts.")] = 2000,
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
    for line in load_demo(settings, seed=seed, users=users):
        console.print(f"  {line}")
