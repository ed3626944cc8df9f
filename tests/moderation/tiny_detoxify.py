"""A tiny Detoxify checkpoint, built in about a second, that the real Detoxify class loads.

The model is a 2-layer, 32-wide BERT (``arch="bert"``, the ``original`` shape) or XLM-RoBERTa
(``arch="xlm-roberta"``, the ``multilingual`` shape) with a hand-written vocabulary, saved in the
checkpoint format OFFLINE.md gives. Its weights are random except for a small hand-set circuit
that makes it a real, if crude, toxicity detector, so that tests can assert behaviour and not just
"a number came out":

- each word of ``TOXIC_WORDS`` has an embedding that lights up its labels' dimensions and a
  marker dimension; ordinary words live in other dimensions;
- layer 0's attention from the first token looks for the marker (a large fixed query against
  the marker key), so it copies a toxic word's labels into the first token wherever the word is,
  however long the text; layer 1 passes its input through;
- the pooler/head turns those label dimensions into logits of about +4 (present) or -4
  (absent), plus a small random term from the other dimensions (so scores vary per text).

So "you are an idiot" scores ~0.98 for toxicity and insult and ~0.02 for threat, for any text
length the model takes. ``seed`` changes the random parts (and so the checkpoint's bytes).

Tests reuse one build per session through ``tiny_detoxify(tmp_path_factory, ...)``; pipeline tests
can install one into a models directory with ``install_tiny_detoxify``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

#: Labels of the released ``original`` checkpoint, in its order.
ORIGINAL_CLASSES = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
#: Labels like the ``multilingual``/``unbiased`` ones: already renamed, plus an extra one.
MULTILINGUAL_CLASSES = (
    "toxicity",
    "severe_toxicity",
    "obscene",
    "identity_attack",
    "insult",
    "threat",
    "sexual_explicit",
)
#: Word -> the labels it sets (either naming scheme; unknown names are ignored per model).
TOXIC_WORDS: dict[str, tuple[str, ...]] = {
    "idiot": ("toxic", "toxicity", "insult"),
    "moron": ("toxic", "toxicity", "insult"),
    "kill": ("toxic", "toxicity", "severe_toxic", "severe_toxicity", "threat"),
    "damn": ("toxic", "toxicity", "obscene"),
    "vermin": ("toxic", "toxicity", "identity_hate", "identity_attack"),
    "naked": ("sexual_explicit",),
}
NEUTRAL_WORDS = (
    "the",
    "a",
    "an",
    "you",
    "are",
    "is",
    "was",
    "i",
    "we",
    "they",
    "it",
    "this",
    "that",
    "and",
    "to",
    "of",
    "in",
    "on",
    "with",
    "for",
    "my",
    "your",
    "nice",
    "good",
    "great",
    "day",
    "video",
    "song",
    "dance",
    "cat",
    "dog",
    "music",
    "love",
    "fun",
    "people",
    "thanks",
    "share",
    "eres",
    "un",
    "idiota",
    "du",
    "bist",
    "merci",
    "pour",
    "la",
)
HIDDEN = 32
HEADS = 2
ARCHES = ("bert", "xlm-roberta")


@dataclass(frozen=True)
class TinyDetoxify:
    """A built checkpoint and the Hugging Face folder (config + tokenizer) it goes with."""

    checkpoint: Path
    hf_dir: Path
    arch: str
    classes: tuple[str, ...]


def _bert_tokenizer(hf_dir: Path) -> Any:
    from transformers import BertTokenizer

    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokens += [*NEUTRAL_WORDS, *TOXIC_WORDS, *letters, *(f"##{c}" for c in letters), *".,!?'*"]
    vocab = {token: i for i, token in enumerate(dict.fromkeys(tokens))}
    tokenizer = BertTokenizer(vocab=vocab, do_lower_case=True, model_max_length=512)
    tokenizer.save_pretrained(hf_dir)
    return tokenizer


def _xlmr_tokenizer(hf_dir: Path) -> Any:
    from transformers import XLMRobertaTokenizer

    pieces: list[tuple[str, float]] = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [(f"\u2581{w}", -2.0) for w in dict.fromkeys([*NEUTRAL_WORDS, *TOXIC_WORDS])]
    pieces += [(c, -6.0) for c in "abcdefghijklmnopqrstuvwxyz0123456789.,!?'*"]
    pieces += [("\u2581", -4.0), ("<mask>", 0.0)]
    tokenizer = XLMRobertaTokenizer(vocab=pieces, model_max_length=512)
    tokenizer.save_pretrained(hf_dir)
    return tokenizer


def _craft(model: Any, tokenizer: Any, classes: Sequence[str], seed: int) -> None:
    """Set the detector circuit described in the module docstring; the rest stays random."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    labels = len(classes)
    marker = labels  # dims 0..labels-1: labels; dim `labels`: "a toxic word is here"
    content = slice(12, HIDDEN)
    base = model.bert if hasattr(model, "bert") else model.roberta
    if hasattr(model, "bert"):
        head_dense, head_out = model.bert.pooler.dense, model.classifier
    else:
        head_dense, head_out = model.classifier.dense, model.classifier.out_proj

    with torch.no_grad():
        words = base.embeddings.word_embeddings.weight
        words.zero_()
        words[:, content] = torch.randn(words.shape[0], HIDDEN - 12, generator=generator)
        for word, word_labels in TOXIC_WORDS.items():
            ids = tokenizer(word, add_special_tokens=False)["input_ids"]
            assert len(ids) == 1, f"{word!r} must be one token, got {ids}"
            row = words[ids[0]]
            row.zero_()
            row[marker] = 4.0
            for i, name in enumerate(classes):
                if name in word_labels:
                    row[i] = 4.0
        base.embeddings.position_embeddings.weight.zero_()
        base.embeddings.token_type_embeddings.weight.zero_()
        for layer_index, layer in enumerate(base.encoder.layer):
            attention = layer.attention
            head_size = HIDDEN // HEADS
            if layer_index == 0:
                attention.self.query.weight.zero_()
                attention.self.query.bias.zero_()
                attention.self.key.weight.zero_()
                attention.self.key.bias.zero_()
                attention.self.value.weight.zero_()
                attention.self.value.bias.zero_()
                for head in range(HEADS):
                    attention.self.query.bias[head * head_size] = 40.0
                    attention.self.key.weight[head * head_size, marker] = 1.0
                for dim in range(marker + 1):  # head 0 carries the label dims and the marker
                    attention.self.value.weight[dim, dim] = 1.0
                attention.output.dense.weight.zero_()
                for dim in range(marker + 1):
                    attention.output.dense.weight[dim, dim] = 1.0
            else:
                attention.output.dense.weight.zero_()
            attention.output.dense.bias.zero_()
            layer.output.dense.weight.zero_()
            layer.output.dense.bias.zero_()
        head_dense.weight.zero_()
        head_dense.bias.zero_()
        for dim in range(labels):
            head_dense.weight[dim, dim] = 3.0
            head_dense.bias[dim] = -3.6
        head_dense.weight[content, content] = 0.3 * torch.randn(
            HIDDEN - 12, HIDDEN - 12, generator=generator
        )
        head_out.weight.zero_()
        head_out.bias.zero_()
        for dim in range(labels):
            head_out.weight[dim, dim] = 4.0
        head_out.weight[:, content] = 0.15 * torch.randn(labels, HIDDEN - 12, generator=generator)
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.fill_(1.0)
                module.bias.zero_()


def build_tiny_detoxify(
    folder: Path,
    *,
    arch: str = "bert",
    classes: Sequence[str] | None = None,
    seed: int = 0,
    model_type: str | None = None,
) -> TinyDetoxify:
    """Write ``folder/checkpoint.ckpt`` and ``folder/hf/``; ``model_type`` overrides the
    checkpoint's (default: the local hf folder, as OFFLINE.md says)."""
    import torch
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        XLMRobertaConfig,
        XLMRobertaForSequenceClassification,
    )

    if arch not in ARCHES:
        raise ValueError(f"arch must be one of {ARCHES}")
    classes = tuple(classes or (ORIGINAL_CLASSES if arch == "bert" else MULTILINGUAL_CLASSES))
    folder = Path(folder)
    hf_dir = folder / "hf"
    hf_dir.mkdir(parents=True, exist_ok=True)
    shape = {
        "hidden_size": HIDDEN,
        "num_hidden_layers": 2,
        "num_attention_heads": HEADS,
        "intermediate_size": 64,
        "num_labels": len(classes),
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
    }
    torch.manual_seed(seed)
    if arch == "bert":
        tokenizer = _bert_tokenizer(hf_dir)
        config = BertConfig(vocab_size=len(tokenizer), max_position_embeddings=512, **shape)
        model = BertForSequenceClassification(config)
        names = ("BertForSequenceClassification", "BertTokenizer")
    else:
        tokenizer = _xlmr_tokenizer(hf_dir)
        config = XLMRobertaConfig(
            vocab_size=len(tokenizer),
            max_position_embeddings=514,
            type_vocab_size=1,
            pad_token_id=1,
            bos_token_id=0,
            eos_token_id=2,
            **shape,
        )
        model = XLMRobertaForSequenceClassification(config)
        names = ("XLMRobertaForSequenceClassification", "XLMRobertaTokenizer")
    _craft(model, tokenizer, classes, seed)
    model.eval()
    config.save_pretrained(hf_dir)
    checkpoint = folder / "checkpoint.ckpt"
    torch.save(
        {
            "config": {
                "arch": {
                    "args": {
                        "model_type": model_type or str(hf_dir),
                        "model_name": names[0],
                        "tokenizer_name": names[1],
                        "num_classes": len(classes),
                    }
                },
                "dataset": {"args": {"classes": list(classes)}},
            },
            "state_dict": model.state_dict(),
        },
        checkpoint,
    )
    return TinyDetoxify(checkpoint, hf_dir, arch, classes)


def tiny_detoxify(
    tmp_path_factory: pytest.TempPathFactory, arch: str = "bert", *, seed: int = 0
) -> TinyDetoxify:
    """One build per test session (and arch and seed), under pytest's session temp folder."""
    folder = tmp_path_factory.getbasetemp() / f"tiny-detoxify-{arch}-{seed}"
    classes = ORIGINAL_CLASSES if arch == "bert" else MULTILINGUAL_CLASSES
    if (folder / "built").is_file():
        return TinyDetoxify(folder / "checkpoint.ckpt", folder / "hf", arch, classes)
    built = build_tiny_detoxify(folder, arch=arch, seed=seed)
    (folder / "built").touch()
    return built


def install_tiny_detoxify(
    models_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    variant: str = "original",
    *,
    seed: int = 0,
) -> Any:
    """Install the session's tiny checkpoint as ``detoxify/<variant>`` in ``models_dir``
    (``multilingual`` gets the XLM-RoBERTa build, the others the BERT one)."""
    from moderation.classifiers.detoxify import install_detoxify_checkpoint

    arch = "xlm-roberta" if variant == "multilingual" else "bert"
    built = tiny_detoxify(tmp_path_factory, arch, seed=seed)
    return install_detoxify_checkpoint(built.checkpoint, models_dir, variant, built.hf_dir)
