"""Languages and regions: language identification, translation, country rules.

- ``regions``: the countries the platform serves, one YAML file each (languages, review
  language, minimum age, legal notes, raw watched-term and policy blocks).
- ``langid``: language identification of short texts (fastText, lingua, langdetect, and the
  default hybrid), restricted to the platform's languages, "und" rather than a wrong guess.
- ``translation``: Argos Translate packages from the models directory, for reviewers.
- ``registry``: what is installed in the models directory.

Heavy libraries (fastText, lingua, Argos, spaCy) load when a detector or a translation is
first used, never at import.
"""

from __future__ import annotations

from .countries import country_codes, country_names, is_country
from .errors import ModelFileError, ModelMissingError, RegionFileError
from .evaluation import LangidReport, evaluate_langid, load_langid_dir, load_tatoeba
from .langid import (
    UNDETERMINED,
    DetectionRules,
    LanguageDetector,
    LanguageGuess,
    fasttext_model_path,
    fetch_fasttext_lid,
    install_langid_model,
    open_detector,
)
from .languages import to_iso639_1
from .regions import REGIONS, Region, get_region, load_regions, platform_languages
from .registry import InstalledModel, installed_models
from .translation import Translation, Translator, install_translation_package

__all__ = [
    "REGIONS",
    "UNDETERMINED",
    "DetectionRules",
    "InstalledModel",
    "LangidReport",
    "LanguageDetector",
    "LanguageGuess",
    "ModelFileError",
    "ModelMissingError",
    "Region",
    "RegionFileError",
    "Translation",
    "Translator",
    "country_codes",
    "country_names",
    "evaluate_langid",
    "fasttext_model_path",
    "fetch_fasttext_lid",
    "get_region",
    "install_langid_model",
    "install_translation_package",
    "installed_models",
    "is_country",
    "load_langid_dir",
    "load_regions",
    "load_tatoeba",
    "open_detector",
    "platform_languages",
    "to_iso639_1",
]
