"""``vigil eval langid`` data: both layouts read, and the figures on the Tatoeba dev set."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InvalidInputError
from core.settings import load_settings
from localization import evaluate_langid, load_langid_dir, load_tatoeba, open_detector
from localization.evaluation import write_langid_dir
from tests.conftest import SHARED_DIR

TATOEBA = SHARED_DIR / "eval" / "langid" / "tatoeba"


def test_iso_files_in_either_code_form_are_read_by_language(tmp_path: Path) -> None:
    (tmp_path / "es.txt").write_text("hola amigo\n\n", encoding="utf-8")
    (tmp_path / "spa.txt").write_text("buenas noches a todos\n", encoding="utf-8")
    (tmp_path / "deu.txt").write_text("guten Morgen\n", encoding="utf-8")
    assert load_langid_dir(tmp_path) == {
        "de": ["guten Morgen"],
        "es": ["hola amigo", "buenas noches a todos"],
    }


def test_a_file_not_named_by_a_language_is_refused(tmp_path: Path) -> None:
    (tmp_path / "spanish.txt").write_text("hola\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"spanish\.txt: the file name must be"):
        load_langid_dir(tmp_path)
    with pytest.raises(InvalidInputError, match="holds no <iso code>"):
        load_langid_dir(tmp_path / "missing")


def test_the_tatoeba_layout_converts_to_iso_files(tmp_path: Path) -> None:
    source = tmp_path / "tatoeba"
    source.mkdir()
    (source / "tatoeba.spa-eng.spa").write_text("Hola.\nAdiós.\n", encoding="utf-8")
    (source / "tatoeba.spa-eng.eng").write_text("Hello.\nBye.\n", encoding="utf-8")
    (source / "tatoeba.cmn-eng.cmn").write_text("你好。\n", encoding="utf-8")
    (source / "tatoeba.cmn-eng.eng").write_text("Hi.\n", encoding="utf-8")
    samples = load_tatoeba(source)
    assert samples == {"zh": ["你好。"], "es": ["Hola.", "Adiós."], "en": ["Hi."]}
    write_langid_dir(samples, tmp_path / "iso")
    assert load_langid_dir(tmp_path / "iso") == {k: samples[k] for k in ("en", "es", "zh")}


def test_report_counts_right_wrong_and_undetermined(lid_models_dir: Path) -> None:
    samples = {
        "es": ["Muchas gracias por este video tan bonito", "ok"],
        "de": ["Vielen Dank für dieses schöne Video"],
    }
    detector = open_detector(load_settings(models_dir=lid_models_dir), name="fasttext")
    report = evaluate_langid(detector, samples)
    assert report.n == 3
    assert report.accuracy == pytest.approx(2 / 3)
    assert report.undetermined == pytest.approx(1 / 3)
    assert report.wrong == 0
    assert report.per_language["es"].accuracy == 0.5
    assert report.undetermined_reasons == {"too_short": 1}
    assert report.texts_per_second > 0
    assert report.to_json()["per_language"]["de"]["n"] == 1


@pytest.mark.skipif(not TATOEBA.is_dir(), reason=f"no Tatoeba dev set at {TATOEBA}")
def test_fasttext_on_the_tatoeba_dev_set(lid_models_dir: Path) -> None:
    samples = load_tatoeba(TATOEBA)
    assert sum(map(len, samples.values())) == 26_548
    assert len(samples) == 27
    detector = open_detector(
        load_settings(models_dir=lid_models_dir), name="fasttext", languages=sorted(samples)
    )
    report = evaluate_langid(detector, samples)
    # Dev figures (bench.langid): 0.969 accuracy, 1.5% "und", 1.6% wrong.
    assert report.accuracy > 0.96
    assert report.wrong < 0.02
