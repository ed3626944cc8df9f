"""Text pipeline benchmark: comments per second through language ID, normalization, the toxicity
classifier, watched terms and the policy, on one and on two processes.

    .venv/bin/python -m bench.text_pipeline [--texts 20000] [--batch 64] [--processes 1,2]
                                            [--models-dir DIR] [--model auto]

The comments are real short texts: a stratified sample of every dev set in
``../shared/eval/toxicity/`` (English, German, Portuguese, French, Arabic tweets and comments),
the same sample in every configuration. Each process loads its own ``moderation.Checker`` (the
worker's: the configured language detector, the configured classifier, every region's watched
terms, the shipped policy) untimed, then pushes its share of the texts through
``Checker.analyze`` in batches of ``--batch`` and evaluates the policy over each result's
signals, as the worker does (without the database writes, which the bus consumer does once per
comment and which the embedded SQLite store, not the models, bounds). Each stage is also timed on
its own in the first process. Prints a markdown block for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = REPO_ROOT / ".cache" / "models"


def _texts(count: int, seed: int = 7) -> list[str]:
    from moderation.classifiers.train import load_dev_sets

    sets = load_dev_sets()
    rng = random.Random(seed)
    per_set = max(1, count // len(sets))
    chosen: list[str] = []
    for dev in sets:
        chosen.extend(rng.sample(dev.texts, min(per_set, len(dev.texts))))
    rng.shuffle(chosen)
    while len(chosen) < count:
        chosen.extend(chosen[: count - len(chosen)])
    return chosen[:count]


def _settings(models_dir: Path, model: str) -> Any:
    from core.settings import Settings

    return Settings(
        data_dir=Path("/tmp/vigil-bench-text"),  # noqa: S108 - nothing is written there
        models_dir=models_dir,
        moderation={"toxicity_model": model},
        _env_file=None,
    )


def _signals(analysis: Any, region: str | None) -> Any:
    from moderation.policy import Signals

    return Signals(
        subject_type="comment",
        region=region,
        language=analysis.language.language,
        scores=dict(analysis.scores.scores),
        terms=tuple(sorted({hit.list_name for hit in analysis.terms})),
        hash_banks=(),
        account_age_days=30.0,
        prior_strikes=0,
        counts={"reports_1h": 0, "reports_24h": 0, "author_comments_1h": 1},
    )


_REGIONS = ("US", "ES", "BR", "DE", "FR", "EG", "GB", "MX")


def _worker(args: tuple[list[str], Path, str, int, Any]) -> tuple[int, float, dict[str, str]]:
    texts, models_dir, model, batch, start_barrier = args
    from moderation.pipeline import Checker

    checker = Checker.from_settings(_settings(models_dir, model))
    checker.analyze(texts[:batch])  # warm: first calls load lazily
    start_barrier.wait()
    started = time.perf_counter()
    for begin in range(0, len(texts), batch):
        chunk = texts[begin : begin + batch]
        regions = [_REGIONS[(begin + i) % len(_REGIONS)] for i in range(len(chunk))]
        for analysis, region in zip(checker.analyze(chunk, regions), regions, strict=True):
            checker.policy.evaluate(_signals(analysis, region))
    return len(texts), time.perf_counter() - started, checker.versions


def _stages(texts: list[str], models_dir: Path, model: str, batch: int) -> dict[str, float]:
    """Texts per second of each stage alone, one process."""
    from moderation.normalize import normalize
    from moderation.pipeline import Checker

    checker = Checker.from_settings(_settings(models_dir, model))
    checker.analyze(texts[:batch])
    out: dict[str, float] = {}

    def timed(name: str, run: Any) -> None:
        started = time.perf_counter()
        for begin in range(0, len(texts), batch):
            run(texts[begin : begin + batch])
        out[name] = len(texts) / (time.perf_counter() - started)

    normalized = {t: normalize(t) for t in texts}
    timed("language ID", checker.detector.detect_many)
    timed("normalization", lambda chunk: [normalize(t) for t in chunk])
    timed(
        "classifier", lambda chunk: checker.classifier.classify([normalized[t].text for t in chunk])
    )
    timed("watched terms", lambda chunk: [checker.terms.match(normalized[t], "DE") for t in chunk])
    analyses = {t: a for t, a in zip(texts, checker.analyze(texts), strict=True)}
    timed(
        "policy",
        lambda chunk: [checker.policy.evaluate(_signals(analyses[t], "ES")) for t in chunk],
    )
    return out


def run(texts: list[str], processes: int, models_dir: Path, model: str, batch: int) -> dict:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(processes)
        shares = [texts[i::processes] for i in range(processes)]
        with ctx.Pool(processes) as pool:
            results = pool.map(
                _worker, [(share, models_dir, model, batch, barrier) for share in shares]
            )
    done = sum(n for n, _, _ in results)
    slowest = max(seconds for _, seconds, _ in results)
    return {"processes": processes, "texts": done, "seconds": slowest, "rate": done / slowest,
            "versions": results[0][2]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument("--model", default="auto")
    args = parser.parse_args()
    models_dir = args.models_dir or Path(os.environ.get("VIGIL_MODELS_DIR", DEFAULT_MODELS))
    texts = _texts(args.texts)
    stages = _stages(texts, models_dir, args.model, args.batch)
    rows = [
        run(texts, int(p), models_dir, args.model, args.batch) for p in args.processes.split(",")
    ]
    versions = rows[0]["versions"]
    chars = sum(map(len, texts)) / len(texts)
    print(f"## Text pipeline ({datetime.now(UTC):%Y-%m-%d}, {platform.node()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()})")  # fmt: skip
    print()
    print(f"`python -m bench.text_pipeline --texts {args.texts} --batch {args.batch}`: "
          f"{len(texts):,} dev-set comments (mean {chars:.0f} characters); "
          + ", ".join(f"{k} {v}" for k, v in versions.items()))  # fmt: skip
    print()
    print("| stage (one process) | texts/s |")
    print("|---|---:|")
    for name, rate in stages.items():
        print(f"| {name} | {rate:,.0f} |")
    print()
    print("| processes | comments | seconds | comments/s |")
    print("|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['processes']} | {row['texts']:,} | {row['seconds']:.2f} | {row['rate']:,.0f} |"
        )


if __name__ == "__main__":
    main()
