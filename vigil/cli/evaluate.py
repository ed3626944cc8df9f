"""``vigil eval ...``: measure models on labelled data; ``--json`` prints one JSON object.

Each command lives in its own function block (``langid``: localization; ``toxicity``:
moderation) and shares only the app and ``emit_json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from core.errors import VigilError
from core.settings import get_settings
from localization import evaluate_langid, load_langid_dir, load_tatoeba, open_detector
from localization.langid import ALL

from .admin import fail

app = typer.Typer(help="Evaluate models on labelled data.", no_args_is_help=True)
console = Console()


def emit_json(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


# langid ------------------------------------------------------------------------------------


@app.command("langid")
def langid(
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Folder of <iso code>.txt files (ISO 639-1 or 639-3), one text per line.",
        ),
    ] = None,
    tatoeba: Annotated[
        Path | None,
        typer.Option(
            "--tatoeba",
            help="Instead of --dir: a folder in the Tatoeba/LASER layout "
            "(tatoeba.<xxx>-eng.<xxx>), e.g. ../shared/eval/langid/tatoeba.",
        ),
    ] = None,
    detector: Annotated[
        str | None,
        typer.Option(
            help="auto, hybrid, fasttext, lingua or langdetect (default: the configured one)."
        ),
    ] = None,
    languages: Annotated[
        str,
        typer.Option(
            help="Languages the detector may answer: 'data' (those of the files), "
            "'platform' (the configured ones), 'all' (no restriction) or a comma list."
        ),
    ] = "data",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Language ID: n, accuracy overall and per language, "und" rate and texts/s.

    The Tatoeba dev set: `vigil eval langid --tatoeba ../shared/eval/langid/tatoeba`.
    """
    settings = get_settings()
    try:
        if directory is not None and tatoeba is None:
            samples = load_langid_dir(directory)
        elif tatoeba is not None and directory is None:
            samples = load_tatoeba(tatoeba)
        else:
            fail("give one of --dir DIR or --tatoeba DIR")
        if languages == "data":
            allowed: tuple[str, ...] | None = tuple(sorted(samples))
        elif languages == "platform":
            allowed = None
        elif languages == "all":
            allowed = ALL
        else:
            allowed = tuple(code.strip() for code in languages.split(",") if code.strip())
        chosen = open_detector(settings, name=detector, languages=allowed)
        report = evaluate_langid(chosen, samples)
    except VigilError as exc:
        fail(exc.message)
    if as_json:
        emit_json(report.to_json())
        return
    restricted = ", ".join(report.languages) if report.languages else "no restriction"
    console.print(f"detector [bold]{report.detector}[/] (languages: {restricted})")
    table = Table("language", "n", "accuracy", "und", "confused with")
    for language, score in report.per_language.items():
        confused = ", ".join(f"{lang} {count}" for lang, count in score.confused_with.items())
        table.add_row(
            language, f"{score.n:,}", f"{score.accuracy:.3f}", f"{score.undetermined:.3f}", confused
        )
    console.print(table)
    console.print(
        f"n {report.n:,}  accuracy [bold]{report.accuracy:.4f}[/]  und {report.undetermined:.4f}  "
        f"wrong {report.wrong:.4f}  [bold]{report.texts_per_second:,.0f}[/] texts/s"
    )


# toxicity ----------------------------------------------------------------------------------


def _values(option: str | None) -> list[str]:
    return [v.strip() for v in (option or "").split(",") if v.strip()]


@app.command("toxicity")
def toxicity(
    csv_path: Annotated[
        Path, typer.Option("--csv", help="Labelled CSV or TSV file.", show_default=False)
    ],
    text_column: Annotated[
        str, typer.Option(help="Column of the text: a header name, or a 0-based index.")
    ],
    label_column: Annotated[
        str,
        typer.Option(
            help="Label column(s), comma-separated: a row is positive when any of them matches."
        ),
    ],
    positive: Annotated[
        str | None,
        typer.Option(help="Label value(s) that mean toxic, comma-separated (e.g. OFF or 0,1)."),
    ] = None,
    negative: Annotated[
        str | None,
        typer.Option(help="Instead of --positive: the value(s) that mean not toxic."),
    ] = None,
    ignore: Annotated[
        str | None,
        typer.Option(help="Label value(s) whose rows are skipped and counted (e.g. -1)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="auto, compact, profanity-check or detoxify-<variant> (default: the configured)."
        ),
    ] = None,
    attribute: Annotated[str, typer.Option(help="The score to evaluate.")] = "toxicity",
    sep: Annotated[str, typer.Option(help="Field separator; 'tab' or '\\t' for TSV.")] = ",",
    no_header: Annotated[
        bool, typer.Option("--no-header", help="The file has no header row: columns are indices.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Toxicity: n, positives, ROC-AUC, PR-AUC, the F1-best threshold and texts/s.

    The dev sets (run from the repository root):
    GermEval 2018 (headerless TSV):
    --csv ../shared/eval/toxicity/germeval2018_train/germeval2018.training.txt
    --sep tab --no-header --text-column 0 --label-column 1 --positive OFFENSE;
    OLID: --csv ../shared/eval/toxicity/olid_train/olid-training-v1.0.tsv --sep tab
    --text-column tweet --label-column subtask_a --positive OFF (docs/models/toxicity-compact.md
    lists every set's command).
    """
    from moderation.classifiers import open_text_classifier
    from moderation.classifiers.evaluation import evaluate_toxicity, read_labelled_file

    try:
        data = read_labelled_file(
            csv_path,
            text_column=text_column,
            label_columns=_values(label_column),
            positive=_values(positive),
            negative=_values(negative),
            ignore=_values(ignore),
            sep=sep,
            header=not no_header,
        )
        classifier = open_text_classifier(get_settings(), model)
        report = evaluate_toxicity(classifier, data, attribute=attribute)
    except VigilError as exc:
        fail(exc.message)
        return
    if as_json:
        emit_json(report.to_json())
        return

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    console.print(f"model [bold]{report.model}[/] {report.version}, attribute {report.attribute}")
    console.print(
        f"n {report.n:,}  positives {report.positives:,}  skipped: {report.skipped_empty} empty "
        f"text, {report.skipped_ignored} ignored label"
    )
    console.print(f"ROC-AUC [bold]{fmt(report.roc_auc)}[/]  PR-AUC {fmt(report.pr_auc)}")
    console.print(
        f"F1-best threshold {fmt(report.best_threshold)}: F1 {fmt(report.best_f1)}, "
        f"precision {fmt(report.best_precision)}, recall {fmt(report.best_recall)}"
    )
    console.print(f"[bold]{report.texts_per_second:,.0f}[/] texts/s")
