"""Language codes: every form a detector or data set uses maps to ISO 639-1."""

from __future__ import annotations

import pytest

from localization import to_iso639_1
from localization.languages import normalize_language


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("es", "es"),
        ("spa", "es"),
        ("ES", "es"),
        ("pt-BR", "pt"),
        ("zh_TW", "zh"),
        ("cmn", "zh"),
        ("ger", "de"),
        ("arz", "ar"),
        ("iw", "he"),
        ("fil", "tl"),
        ("ind", "id"),
    ],
)
def test_codes_map_to_iso639_1(code: str, expected: str) -> None:
    assert to_iso639_1(code) == expected


@pytest.mark.parametrize("code", ["xx", "klingon", "", "ceb"])
def test_unknown_codes_raise_naming_the_code(code: str) -> None:
    with pytest.raises(ValueError, match=repr(code)):
        to_iso639_1(code)


def test_detector_labels_without_iso639_1_keep_their_code() -> None:
    assert normalize_language("ceb") == "ceb"
    assert normalize_language("spa") == "es"
