"""``vigil bench NAME``: run a benchmark from the source tree's bench/ folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from .admin import fail

app = typer.Typer(help="Benchmarks (from a source checkout).", no_args_is_help=True)

SOURCE_ROOT = Path(__file__).resolve().parents[2]


@app.command(
    "run",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def run(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Benchmark module in bench/, e.g. bus.")],
) -> None:
    """Run bench/NAME.py; extra arguments are passed to it (e.g. --backend sqlite)."""
    if not (SOURCE_ROOT / "bench" / f"{name}.py").is_file():
        available = sorted(
            p.stem for p in (SOURCE_ROOT / "bench").glob("*.py") if not p.stem.startswith("_")
        )
        fail(
            f"no benchmark {name!r} in {SOURCE_ROOT / 'bench'}; available: "
            f"{', '.join(available) or 'none (benchmarks ship with the source tree)'}"
        )
    command = [sys.executable, "-m", f"bench.{name}", *ctx.args]
    raise typer.Exit(subprocess.call(command, cwd=SOURCE_ROOT))
