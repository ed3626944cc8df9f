"""A tiny but real Argos Translate package, built offline in a few seconds, for tests.

The package has the layout of a released one (``metadata.json``, ``model/`` as a CTranslate2
model, ``sentencepiece.model``, optionally a ``spacy/`` sentence splitter) zipped with one
top-level folder as ``translate-<from>_<to>-<version>.argosmodel``. Its model is a random
MarianMT with a 16-dimensional, one-layer encoder and decoder, so the
translations are gibberish, but every step of the real path runs: SentencePiece, CTranslate2
beam search, Argos's post-processing.

Reuse from any test (the end-to-end tests do)::

    from tests.localization.tiny_argos import build_tiny_argos_package
    path = build_tiny_argos_package(tmp_path, "es", "en")
    vigil models install path   /   localization.install_translation_package(path, models_dir)

``TinyArgosCache`` builds each (from, to) pair once per test session.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

CORPUS = {
    "en": [
        "the cat sleeps on the red sofa",
        "you are a very kind person",
        "we watch short videos every evening",
        "this comment is not nice at all",
        "thank you for the wonderful video",
    ],
    "es": [
        "el gato duerme en el sofa rojo",
        "eres una persona muy amable",
        "vemos videos cortos cada tarde",
        "este comentario no es nada bonito",
        "gracias por el video maravilloso",
    ],
    "fr": [
        "le chat dort sur le canape rouge",
        "tu es une personne tres gentille",
        "nous regardons des videos courtes chaque soir",
        "ce commentaire n est pas gentil du tout",
        "merci pour la video merveilleuse",
    ],
    "de": [
        "die katze schlaeft auf dem roten sofa",
        "du bist ein sehr netter mensch",
        "wir sehen jeden abend kurze videos",
        "dieser kommentar ist gar nicht nett",
        "danke fuer das wunderbare video",
    ],
}
EOS_BIAS = 2.0  # makes the random decoder stop after a few tokens instead of 256


def _train_sentencepiece(folder: Path, source: str, target: str) -> Path:
    import sentencepiece as spm

    corpus = folder / "corpus.txt"
    lines = CORPUS.get(source, CORPUS["en"]) + CORPUS.get(target, CORPUS["en"])
    corpus.write_text("\n".join(lines * 4) + "\n", encoding="utf-8")
    prefix = folder / "sentencepiece"
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(prefix),
        vocab_size=64,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    corpus.unlink()
    prefix.with_suffix(".vocab").unlink()
    return prefix.with_suffix(".model")


def _build_marian(hf_dir: Path, sp_model: Path, seed: int) -> None:
    """A random MarianMT whose vocabulary is the SentencePiece model's pieces."""
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    processor = spm.SentencePieceProcessor(model_file=str(sp_model))
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    vocab = ["</s>", "<unk>", *[p for p in pieces if p not in ("<unk>", "<s>", "</s>")], "<pad>"]
    hf_dir.mkdir(parents=True)
    (hf_dir / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    shutil.copyfile(sp_model, hf_dir / "source.spm")
    shutil.copyfile(sp_model, hf_dir / "target.spm")
    MarianTokenizer(
        source_spm=str(hf_dir / "source.spm"),
        target_spm=str(hf_dir / "target.spm"),
        vocab=str(hf_dir / "vocab.json"),
    ).save_pretrained(str(hf_dir))
    config = MarianConfig(
        vocab_size=len(vocab),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=512,
        pad_token_id=len(vocab) - 1,
        eos_token_id=0,
        decoder_start_token_id=len(vocab) - 1,
        forced_eos_token_id=0,
    )
    torch.manual_seed(seed)
    model = MarianMTModel(config)
    with torch.no_grad():
        model.final_logits_bias[0, 0] = EOS_BIAS
    model.save_pretrained(str(hf_dir))


def build_tiny_argos_package(
    folder: Path,
    source: str,
    target: str,
    *,
    version: str = "1.0",
    seed: int | None = None,
    with_spacy: bool = True,
) -> Path:
    """Build ``translate-<source>_<target>-<version>.argosmodel`` in ``folder``; return it."""
    import ctranslate2
    import spacy
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    folder = Path(folder)
    name = f"translate-{source}_{target}-{version.replace('.', '_')}"
    work = folder / f"{name}.build"
    package = work / name
    package.mkdir(parents=True)
    sp_model = _train_sentencepiece(work, source, target)
    shutil.move(str(sp_model), package / "sentencepiece.model")
    hf_dir = work / "hf"
    default_seed = sum(map(ord, source + target))
    _build_marian(hf_dir, package / "sentencepiece.model", default_seed if seed is None else seed)
    ctranslate2.converters.TransformersConverter(str(hf_dir)).convert(
        str(package / "model"), quantization=None, force=True
    )
    if with_spacy:
        # The sentence splitter OFFLINE.md prescribes: a blank multilingual spaCy pipeline.
        spacy.blank("xx").to_disk(package / "spacy")
    (package / "metadata.json").write_text(
        json.dumps(
            {
                "package_version": version,
                "argos_version": "1.9",
                "from_code": source,
                "from_name": source,
                "to_code": target,
                "to_name": target,
                "type": "translate",
                "links": [],
            }
        )
    )
    (package / "README.md").write_text(f"Tiny random {source}->{target} test package.\n")
    archive = folder / f"{name}.argosmodel"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(package.rglob("*")):
            zipped.write(path, path.relative_to(work))
    shutil.rmtree(work)
    return archive


class TinyArgosCache:
    """Builds each package once (per folder, e.g. once per test session)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def package(self, source: str, target: str, *, with_spacy: bool = True) -> Path:
        suffix = "" if with_spacy else "-nospacy"
        folder = self.folder / f"{source}_{target}{suffix}"
        existing = sorted(folder.glob("*.argosmodel")) if folder.is_dir() else []
        if existing:
            return existing[0]
        folder.mkdir(parents=True, exist_ok=True)
        return build_tiny_argos_package(folder, source, target, with_spacy=with_spacy)
