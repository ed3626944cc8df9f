"""Operator commands: migrations, configuration, accounts and API keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from core import auth
from core.db import Database, current_revision, head_revision, upgrade
from core.errors import VigilError
from core.settings import describe_fields, get_settings, mask_url_password, masked

console = Console()
db_app = typer.Typer(help="The metadata store.", no_args_is_help=True)
config_app = typer.Typer(help="Configuration.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys for apps.", no_args_is_help=True)


def fail(message: str, code: int = 1) -> None:
    typer.secho(message, fg="red", err=True)
    raise typer.Exit(code)


def open_database() -> Database:
    """The configured database, or exit with the command that prepares it."""
    url = get_settings().effective_database_url
    try:
        revision = current_revision(url)
    except Exception as exc:  # noqa: BLE001 - any driver error becomes one readable line
        fail(f"cannot open the database: {exc}")
    head = head_revision()
    if revision != head:
        fail(
            f"the database is at revision {revision or 'none'}, not {head}: "
            "run `vigil db upgrade` first"
        )
    return Database(url)


@contextmanager
def operator_session() -> Iterator[Session]:
    """A committed session on the migrated database; Vigil errors end the command readably."""
    database = open_database()
    try:
        with database.session() as session:
            yield session
    except VigilError as exc:
        fail(exc.message)
    finally:
        database.dispose()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the database if needed and apply every migration."""
    settings = get_settings()
    url = settings.effective_database_url
    try:
        upgrade(url)
    except VigilError as exc:
        fail(exc.message)
    console.print(f"database at revision [bold]{current_revision(url)}[/] (head {head_revision()})")


@config_app.command("show")
def config_show(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the effective configuration, secrets masked, with each variable's meaning."""
    settings = get_settings()
    data = masked(settings)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table(title="Vigil configuration", show_lines=False)
    table.add_column("variable", style="cyan", no_wrap=True)
    table.add_column("value", style="bold")
    table.add_column("meaning")
    for name, description in describe_fields():
        node: object = data
        for part in name.removeprefix("VIGIL_").lower().split("__"):
            node = node[part] if isinstance(node, dict) else None  # type: ignore[index]
        value = "" if node is None else str(node)
        table.add_row(escape(name), escape(value), escape(description))
    console.print(table)
    for label, url in (
        ("database", settings.effective_database_url),
        ("bus", settings.effective_bus_url),
        ("storage", settings.effective_storage_url),
    ):
        console.print(escape(f"{label + ':':<10}{mask_url_password(url)}"))


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Option("--name", help="Sign-in name (a-z, 0-9, _ . -).")],
    role: Annotated[str, typer.Option("--role", help="One of: " + ", ".join(auth.Role))],
    country: Annotated[str | None, typer.Option(help="ISO 3166 country code.")] = None,
    review_language: Annotated[str | None, typer.Option(help="Moderators: review in.")] = None,
) -> None:
    """Create an account and print its generated password once."""
    with operator_session() as session:
        user, password = auth.create_user(
            session, name=name, role=role, country=country, review_language=review_language
        )
    console.print(f"created [bold]{user.name}[/] ({user.role}), id {user.id}")
    console.print(f"password (shown once): [bold yellow]{password}[/]")


@users_app.command("list")
def users_list(role: Annotated[str | None, typer.Option(help="Only this role.")] = None) -> None:
    """List accounts."""
    with operator_session() as session:
        users = auth.list_users(session, role=role, limit=1000)
        table = Table("name", "role", "country", "active", "created")
        for user in users:
            table.add_row(
                user.name,
                user.role,
                user.country or "",
                str(user.is_active),
                user.created_at.strftime("%Y-%m-%d %H:%M"),
            )
    console.print(table)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="The app this key is for.")],
    scopes: Annotated[str, typer.Option("--scopes", help="Comma-separated, e.g. events:write")],
) -> None:
    """Create an API key and print it once."""
    try:
        parsed = auth.parse_scopes(scopes)
    except ValueError as exc:
        fail(str(exc))
    with operator_session() as session:
        key, plaintext = auth.create_api_key(session, name=name, scopes=parsed)
    console.print(f"created API key [bold]{key.name}[/] with scopes {key.scopes}")
    console.print(f"key (shown once): [bold yellow]{plaintext}[/]")


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Revoke an API key."""
    with operator_session() as session:
        key = auth.revoke_api_key(session, key_id=key_id)
    console.print(f"revoked {key.name}")
