"""ONNX Runtime serving for Hugging Face sequence classifiers: export, int8, sessions, batching.

The Detoxify classifier (detoxify.py) uses this to run its checkpoints faster on CPU than
``Detoxify.predict``: on a bert-base-shaped model, 2 cores, batch 32, about 4-6x in int8 and
1.6-3x in fp32 (``python -m bench.detoxify``, figures in docs/benchmarks.md):

- **Export** with torch's TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``).
  The newer dynamo exporter needs the ``onnxscript`` package, which Vigil does not depend on; the
  TorchScript one ships inside torch 2.13 and is deprecated but complete for encoder models.
  Batch and sequence axes are dynamic. The model is wrapped so that the exported graph takes the
  usual 2D ``attention_mask`` and turns it into an additive 4D mask itself: Hugging Face's own
  mask builder has Python branches (``if padding_length > 0``...) that tracing would freeze at the
  example's shapes. The tracer's warnings are silenced during export because the caller checks the
  exported graph numerically against the torch model on texts of many lengths and paddings
  (detoxify.py refuses an export whose fp32 scores differ by more than 1e-3).
- **int8**: ``onnxruntime.quantization.quantize_dynamic`` (weights int8, activations quantized per
  batch at run time) of the weight MatMuls only; the embeddings (Gather), the attention products
  and the pooler and classifier (Gemm) stay fp32. detoxify.py measures each checkpoint's int8
  error at export and serves int8 only where it stays within tolerance.
- **Sessions** with a fixed intra-op thread count (default: the CPUs this process may use), one
  inter-op thread (encoder graphs are one chain of large ops, so intra-op parallelism is all that
  helps) and no spin-waiting (see ``open_session``). On 2 idle cores 2 threads score about 1.8x
  what 1 does; on 2 cores busy with other work 1 thread can win (``detoxify_threads``).
- **Length bucketing**: ``bucket_batches`` sorts token sequences by length and pads each batch
  only to its own longest member, so one long comment does not make 31 short ones pay for its
  padding.

Files are written atomically (a temporary name in the same folder, then ``os.replace``), so two
workers exporting the same model at once both end up with a complete file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import onnxruntime
    import torch

__all__ = [
    "OPSET",
    "Batch",
    "bucket_batches",
    "default_threads",
    "export_sequence_classifier",
    "open_session",
    "quantize_int8",
    "sigmoid",
]

log = logging.getLogger(__name__)

#: ONNX opset of exported graphs: 17 has LayerNormalization as one op (ORT runs it fused).
OPSET = 17


def default_threads() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Logistic function without overflow warnings for large negative logits."""
    return 0.5 * (1.0 + np.tanh(0.5 * logits.astype(np.float64)))


@contextlib.contextmanager
def _atomic_path(destination: Path) -> Iterator[Path]:
    """A temporary path next to ``destination``, renamed onto it when the block succeeds."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent
    )
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, destination)
    finally:
        temporary.unlink(missing_ok=True)


def _exportable(model: torch.nn.Module, input_names: Sequence[str]) -> torch.nn.Module:
    """``model`` behind a forward that takes the tokenizer's tensors and returns only logits."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor | None = None,
        ) -> torch.Tensor:
            # An additive 4D mask built here, in tensor ops: Hugging Face returns a 4D mask as
            # is, so none of its shape-dependent Python branches end up frozen in the trace.
            additive = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * float(
                torch.finfo(torch.float32).min
            )
            kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": additive}
            if token_type_ids is not None:
                kwargs["token_type_ids"] = token_type_ids
            logits: torch.Tensor = self.model(**kwargs).logits
            return logits

    wrapper = LogitsOnly()
    # A fresh module is in training mode; the exporter would restore that mode afterwards and
    # leave the shared model with dropout switched on.
    wrapper.eval()
    return wrapper


def export_sequence_classifier(
    model: torch.nn.Module,
    input_names: Sequence[str],
    destination: Path,
    *,
    example_length: int = 16,
) -> Path:
    """Export ``model`` (a ``...ForSequenceClassification``) to ONNX with dynamic axes.

    ``input_names`` are the tokenizer's (``input_ids``, ``attention_mask`` and, for BERT,
    ``token_type_ids``); the graph's one output is ``logits`` (batch, labels).
    """
    import torch

    names = [
        name for name in ("input_ids", "attention_mask", "token_type_ids") if name in input_names
    ]
    if names[:2] != ["input_ids", "attention_mask"]:
        raise ValueError(f"cannot export a model whose inputs are {list(input_names)}")
    was_training = model.training
    model.eval()
    # Two rows, the second padded: the trace sees a real padding mask.
    input_ids = torch.full((2, example_length), 5, dtype=torch.long)
    attention_mask = torch.ones((2, example_length), dtype=torch.long)
    attention_mask[1, example_length // 2 :] = 0
    example: tuple[torch.Tensor, ...] = (input_ids, attention_mask)
    if "token_type_ids" in names:
        example += (torch.zeros_like(input_ids),)
    dynamic_axes = {name: {0: "batch", 1: "sequence"} for name in names}
    dynamic_axes["logits"] = {0: "batch"}
    try:
        with _atomic_path(destination) as temporary, torch.no_grad(), warnings.catch_warnings():
            # Deprecation of the TorchScript exporter and the tracer's "converting a tensor to a
            # Python boolean" notes; the caller validates the graph numerically instead.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _exportable(model, names),
                example,
                str(temporary),
                dynamo=False,
                input_names=names,
                output_names=["logits"],
                dynamic_axes=dynamic_axes,
                opset_version=OPSET,
                do_constant_folding=True,
            )
    finally:
        model.train(was_training)
    return destination


class _DropPreprocessAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


@contextlib.contextmanager
def _without_preprocess_advice() -> Iterator[None]:
    """Silence the quantizer's advice to run its pre-processing first.

    It logs that on the root logger at WARNING on every call (which, with no handler configured,
    also installs one through ``basicConfig``). The advice is about static shapes; the caller
    measures the quantized model's scores instead, so the line would only alarm operators.
    """
    root = logging.getLogger()
    advice = _DropPreprocessAdvice()
    guard = logging.NullHandler() if not root.handlers else None
    root.addFilter(advice)
    if guard is not None:
        root.addHandler(guard)
    try:
        yield
    finally:
        root.removeFilter(advice)
        if guard is not None:
            root.removeHandler(guard)


def quantize_int8(source: Path, destination: Path) -> Path:
    """Dynamic int8 quantization of ``source``'s MatMul weights into ``destination``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _atomic_path(destination) as temporary, _without_preprocess_advice():
        quantize_dynamic(
            source,
            temporary,
            op_types_to_quantize=["MatMul"],
            weight_type=QuantType.QInt8,
            per_channel=False,
            # Shape inference leaves some intermediate MatMul outputs untyped; they are float.
            extra_options={"DefaultTensorType": 1},
        )
    return destination


def open_session(path: Path, *, threads: int | None = None) -> onnxruntime.InferenceSession:
    """A CPU inference session with ``threads`` intra-op threads (default: usable CPUs)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or default_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: its fusion notes are not operator news
    # Idle pool threads sleep instead of spinning: on a machine shared with other workers a
    # spinning thread burns the core another process needs, and the pool waits for the one
    # thread that lost its core (int8 at 48 tokens, 2 threads on 2 busy cores: 35 texts/s
    # spinning, 46 not).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@dataclass(frozen=True)
class Batch:
    """Padded arrays for one batch, and which input sequences (by index) they hold, in order."""

    indices: np.ndarray
    feeds: dict[str, np.ndarray]


def bucket_batches(
    sequences: Sequence[Sequence[int]],
    *,
    batch_size: int,
    pad_id: int,
    input_names: Sequence[str],
) -> Iterator[Batch]:
    """Batches of ``sequences`` sorted by length, each padded to its own longest member."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    order = np.argsort(lengths, kind="stable")
    with_types = "token_type_ids" in input_names
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        width = int(lengths[indices].max())
        input_ids = np.full((len(indices), width), pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(indices), width), dtype=np.int64)
        for row, index in enumerate(indices):
            tokens = sequences[index]
            input_ids[row, : len(tokens)] = tokens
            attention_mask[row, : len(tokens)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        if with_types:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        yield Batch(indices=indices, feeds=feeds)
