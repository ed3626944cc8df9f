"""``vigil eval toxicity`` on small labelled files written by the test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.errors import InvalidInputError
from moderation.classifiers.evaluation import read_labelled_file
from vigil.cli.evaluate import app

ROWS = [
    ("fuck you, you stupid idiot", "OFF"),
    ("you are a worthless piece of shit", "OFF"),
    ("shut up, moron", "OFF"),
    ("what a lovely video, thank you", "NOT"),
    ("I learned a lot from this tutorial", "NOT"),
    ("see you tomorrow at the park", "NOT"),
    ("", "NOT"),
]


def _tsv(path: Path, header: bool) -> Path:
    lines = (["id\ttweet\tlabel"] if header else []) + [
        f"{i}\t{text}\t{label}" for i, (text, label) in enumerate(ROWS)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_eval_toxicity_prints_the_figures_as_json(tmp_path: Path) -> None:
    path = _tsv(tmp_path / "dev.tsv", header=True)
    result = CliRunner().invoke(
        app,
        ["toxicity", "--csv", str(path), "--sep", "tab", "--text-column", "tweet",
         "--label-column", "label", "--positive", "OFF", "--model", "compact", "--json"],
        env={"VIGIL_DATA_DIR": str(tmp_path / "data")},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["n"], report["positives"], report["skipped_empty"]) == (6, 3, 1)
    assert report["model"] == "vigil-compact"
    assert report["roc_auc"] == 1.0
    assert report["pr_auc"] == 1.0
    assert report["best_f1"] == 1.0
    assert 0 < report["best_threshold"] < 1
    assert report["texts_per_second"] > 0


def test_eval_toxicity_reads_headerless_files_by_column_index(tmp_path: Path) -> None:
    path = _tsv(tmp_path / "dev.tsv", header=False)
    result = CliRunner().invoke(
        app,
        ["toxicity", "--csv", str(path), "--sep", "\\t", "--no-header", "--text-column", "1",
         "--label-column", "2", "--negative", "NOT", "--model", "profanity-check"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "n 6" in result.output
    assert "ROC-AUC 1.0000" in result.output
    assert "profanity-check" in result.output


def test_labels_from_several_columns_and_ignored_values(tmp_path: Path) -> None:
    path = tmp_path / "dev.csv"
    path.write_text(
        'text,insult,obscene\n"a, b",0.0,2.0\nc,0.0,0.0\nd,1.0,0.0\ne,-1,0.0\n', encoding="utf-8"
    )
    data = read_labelled_file(
        path,
        text_column="text",
        label_columns=["insult", "obscene"],
        positive=["1.0", "2.0", "3.0"],
        ignore=["-1"],
    )
    assert data.texts == ["a, b", "c", "d"]
    assert data.labels.tolist() == [1, 0, 1]
    assert data.skipped_ignored == 1


def test_a_wrong_column_names_the_columns_that_exist(tmp_path: Path) -> None:
    path = _tsv(tmp_path / "dev.tsv", header=True)
    with pytest.raises(InvalidInputError, match="the header has: id, tweet, label"):
        read_labelled_file(
            path, text_column="text", label_columns=["label"], positive=["OFF"], sep="tab"
        )
