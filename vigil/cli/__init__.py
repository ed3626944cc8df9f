"""``vigil``: one command, roles and operator tasks as subcommands."""

from __future__ import annotations

import sys

import typer

from core.settings import ConfigError

from . import admin, bench, bus, demo, events, roles

app = typer.Typer(
    name="vigil",
    help="Vigil: trust-and-safety and insight stack for short-video platforms.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("up")(roles.up)
app.command("api")(roles.api)
app.command("worker")(roles.worker)
app.command("dashboards")(roles.dashboards)
app.command("demo")(demo.demo)
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.config_app, name="config")
app.add_typer(admin.users_app, name="users")
app.add_typer(admin.keys_app, name="keys")
app.add_typer(bus.app, name="bus")
app.add_typer(events.app, name="events")
app.add_typer(bench.app, name="bench")


def main() -> None:
    """Console entry point: configuration errors end the process with a readable message."""
    try:
        app()
    except ConfigError as exc:
        typer.secho(f"configuration error:\n{exc}", fg="red", err=True)
        sys.exit(2)
