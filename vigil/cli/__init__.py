"""``vigil``: one command, roles and operator tasks as subcommands."""

from __future__ import annotations

import sys

import typer

from core.settings import ConfigError

from . import admin, banks, bench, bus, decisions, demo, evaluate, events, models, policy, roles

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
app.add_typer(policy.app, name="policy")
app.add_typer(decisions.app, name="decisions")
app.add_typer(banks.app, name="banks")
app.add_typer(models.app, name="models")
app.add_typer(evaluate.app, name="eval")


def main() -> None:
    """Console entry point: configuration errors end the process with a readable message."""
    try:
        app()
    except ConfigError as exc:
        typer.secho(f"configuration error:\n{exc}", fg="red", err=True)
        sys.exit(2)
