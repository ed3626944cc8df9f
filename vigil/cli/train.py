"""``vigil models train toxicity``: train the compact toxicity classifier on the dev data.

``app`` is mounted under ``vigil models`` (``vigil/cli/models.py``).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated

import typer

from core.errors import VigilError

from .admin import fail

app = typer.Typer(help="Train models from labelled data.", no_args_is_help=True)


@app.callback()
def _train() -> None:
    """Train models from labelled data (a group, so that ``toxicity`` is a subcommand)."""


@app.command("toxicity")
def toxicity(
    out: Annotated[
        Path | None,
        typer.Option(
            help="Model file to write (default: <models dir>/toxicity/vigil-compact-<version>.npz, "
            "which takes precedence over the shipped model)."
        ),
    ] = None,
    folds: Annotated[
        int, typer.Option(min=0, max=20, help="Cross-validation folds (0: skip, fit only).")
    ] = 5,
    data: Annotated[
        Path | None,
        typer.Option(help="Toxicity dev data folder (default: ../shared/eval/toxicity)."),
    ] = None,
    version: Annotated[str, typer.Option(help="Version written into the model file.")] = "1.0.0",
    c: Annotated[float, typer.Option("--c", min=0.0001, help="Inverse L2 strength.")] = 4.0,
    with_ablation: Annotated[
        bool,
        typer.Option(
            "--ablation",
            help="Also cross-validate the toxicity head without the context layer and/or the "
            "lexicon (three more runs), and record the figures in the model file.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
) -> None:
    """Cross-validate (k folds grouped by text), fit on all rows, write the model file.

    The cross-validated ROC-AUC per data set and head is printed and recorded in the file: those
    are the model's real figures (``vigil eval toxicity`` on its own training data is optimistic).
    """
    from core.settings import get_settings
    from moderation.classifiers.compact import MODEL_NAME
    from moderation.classifiers.train import HEADS, train_compact

    if out is None:
        out = get_settings().effective_models_dir / "toxicity" / f"{MODEL_NAME}-{version}.npz"
    if out.suffix != ".npz":
        fail(f"--out must end in .npz (got {out})")
    command = _canonical_command(out, folds, version, c, data, with_ablation)

    def progress(message: str) -> None:
        if not as_json:
            typer.echo(message, err=True)

    try:
        report = train_compact(
            out,
            version=version,
            eval_dir=data,
            folds=folds,
            c=c,
            command=command,
            progress=progress,
            with_ablation=with_ablation,
        )
    except VigilError as exc:
        fail(exc.message)
        return
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "path": str(report.path),
                    "version": report.version,
                    "rows": report.rows,
                    "size_bytes": report.size_bytes,
                    "seconds": report.seconds,
                    "cross_validation": {"folds": folds, "roc_auc": report.cross_validation},
                    "ablation_toxicity_roc_auc": report.ablation,
                },
                indent=2,
            )
        )
        return
    typer.echo(
        f"wrote {report.path} ({report.size_bytes / 1e6:.2f} MB, {report.rows} rows, "
        f"{report.seconds:.0f} s)"
    )
    if report.cross_validation:
        typer.echo(f"cross-validated ROC-AUC ({folds} folds grouped by normalized text):")
        typer.echo(f"{'set':<16}{'lang':<6}{'n':>7}" + "".join(f"{h:>17}" for h in HEADS))
        for name, entry in report.cross_validation.items():
            cells = "".join(
                f"{entry[h]:>17.4f}" if entry.get(h) is not None else f"{'-':>17}" for h in HEADS
            )
            typer.echo(f"{name:<16}{entry['language']:<6}{entry['n']:>7}{cells}")
    if report.ablation:
        typer.echo("ablation, toxicity ROC-AUC (same folds):")
        names = list(report.cross_validation)
        typer.echo(f"{'variant':<36}" + "".join(f"{n[:12]:>13}" for n in names))
        rows = {"shipped features": {n: report.cross_validation[n]["toxicity"] for n in names}}
        rows.update(report.ablation)
        for variant, figures in rows.items():
            cells = "".join(
                f"{figures[n]:>13.4f}" if figures.get(n) is not None else f"{'-':>13}"
                for n in names
            )
            typer.echo(f"{variant:<36}{cells}")


def _canonical_command(
    out: Path, folds: int, version: str, c: float, data: Path | None, with_ablation: bool
) -> str:
    """The command that reproduces this model, for its metadata."""
    parts = ["vigil", "models", "train", "toxicity", "--out", str(out), "--folds", str(folds)]
    parts += ["--version", version, "--c", f"{c:g}"]
    if data is not None:
        parts += ["--data", str(data)]
    if with_ablation:
        parts.append("--ablation")
    return " ".join(shlex.quote(p) for p in parts)
