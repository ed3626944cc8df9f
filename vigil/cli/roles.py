"""Roles: ``vigil up`` (everything, supervised), ``vigil api``, ``vigil worker``,
``vigil dashboards``."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.panel import Panel

from core import auth
from core.db import Database, upgrade
from core.errors import VigilError
from core.logging import configure_logging
from core.metrics import mark_process_dead, prepare_multiprocess_dir
from core.settings import Settings, get_settings
from core.supervisor import RoleSpec, Supervisor

from .admin import fail

console = Console()

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where embedded stores live.")]
Host = Annotated[str | None, typer.Option("--host", help="Address to bind.")]
Port = Annotated[int | None, typer.Option("--port", help="Port to bind.")]


def _apply_overrides(
    data_dir: Path | None, host: str | None, port: int | None, *, role: str
) -> Settings:
    # Overrides travel as variables so every child process sees the same configuration.
    if data_dir is not None:
        os.environ["VIGIL_DATA_DIR"] = str(data_dir.resolve())
    if host is not None:
        os.environ["VIGIL_HTTP__HOST"] = host
    if port is not None:
        os.environ["VIGIL_HTTP__PORT"] = str(port)
    get_settings.cache_clear()
    settings = get_settings()
    configure_logging(level=settings.log.level, fmt=settings.log.format, role=role)
    return settings


def _ensure_admin(settings: Settings) -> tuple[str, str] | None:
    """Create the first admin if there is no admin; returns (name, password) when created."""
    database = Database(settings.effective_database_url)
    try:
        with database.session() as session:
            if auth.count_users(session, role=auth.Role.ADMIN.value) > 0:
                return None
            user, password = auth.create_user(session, name="admin", role=auth.Role.ADMIN.value)
            assert password is not None
            return user.name, password
    finally:
        database.dispose()


def _check_port_free(host: str, port: int) -> None:
    # A busy port would make the API role crash and restart forever; say so once instead.
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror}; choose another with --port")


def up(
    data_dir: DataDir = None,
    host: Host = None,
    port: Port = None,
    demo: Annotated[bool, typer.Option("--demo", help="Load the demo data set if empty.")] = False,
) -> None:
    """Run everything on this machine: API with dashboards, and the workers, supervised."""
    settings = _apply_overrides(data_dir, host, port, role="supervisor")
    _check_port_free(settings.http.host, settings.http.port)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        upgrade(settings.effective_database_url)
        created = _ensure_admin(settings)
    except VigilError as exc:
        fail(exc.message)
    if demo:
        from .demo import seed_if_empty

        seed_if_empty(settings)
    prepare_multiprocess_dir(settings.data_dir.resolve() / "metrics")
    url = settings.effective_public_url
    lines = [
        f"Vigil is starting at [bold]{url}[/]",
        f"  dashboards: {url}/login    API docs: {url}/docs",
    ]
    if created:
        lines += [
            f"  admin user:     [bold]{created[0]}[/]",
            f"  admin password: [bold yellow]{created[1]}[/]  (shown once; keep it)",
        ]
    else:
        lines.append("  sign in with an existing account; `vigil users create` adds more")
    console.print(Panel("\n".join(lines), title="vigil up", expand=False))
    exe = [sys.executable, "-m", "vigil"]
    supervisor = Supervisor(
        [RoleSpec("api", [*exe, "api"]), RoleSpec("worker", [*exe, "worker"])],
        on_exit=mark_process_dead,
    )
    raise typer.Exit(supervisor.run())


def api(
    data_dir: DataDir = None,
    host: Host = None,
    port: Port = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
) -> None:
    """Serve the HTTP API with the dashboards mounted."""
    settings = _apply_overrides(data_dir, host, port, role="api")
    count = workers or settings.http.workers
    if count > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        prepare_multiprocess_dir(settings.data_dir.resolve() / "metrics-api")
    uvicorn.run(
        "vigil.server:api_app",
        factory=True,
        host=settings.http.host,
        port=settings.http.port,
        workers=count,
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )


def dashboards(data_dir: DataDir = None, host: Host = None, port: Port = None) -> None:
    """Serve only the dashboards (analytics app and review console)."""
    settings = _apply_overrides(data_dir, host, port, role="dashboards")
    uvicorn.run(
        "vigil.server:dashboards_app",
        factory=True,
        host=settings.http.host,
        port=settings.http.port,
        log_config=None,
        timeout_graceful_shutdown=10,
    )


def worker(
    data_dir: DataDir = None,
    only: Annotated[
        str | None, typer.Option("--only", help="Comma-separated consumer groups to run.")
    ] = None,
    health_port: Annotated[
        int | None, typer.Option(help="Port for /healthz, /readyz, /metrics (0: none).")
    ] = None,
) -> None:
    """Run the bus consumers."""
    from vigil.worker import run_worker, select_groups

    settings = _apply_overrides(data_dir, None, None, role="worker")
    names = [part.strip() for part in only.split(",") if part.strip()] if only else None
    try:
        select_groups(names)
    except ValueError as exc:
        fail(str(exc))
    port = settings.worker.health_port if health_port is None else health_port
    asyncio.run(run_worker(settings, only=names, health_port=port))
