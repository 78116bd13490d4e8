"""The sentence encoder on ONNX Runtime: the same outputs as PyTorch, exported once, quietly."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graders import embeddings
from graders.embeddings import EncodedText, OnnxEncoder, TorchEncoder, export_onnx, model_dir

# Texts as members write them, and the edges of the tokenizer: an empty text, one past the
# encoder's 256-piece limit, non-Latin script, numbers with units and symbols.
TEXTS = [
    "The KV cache grows linearly with sequence length and with batch size.",
    "Prefill is compute-bound; decode is memory-bandwidth-bound.",
    "AdamW keeps two moments per weight, so 16 bytes a parameter with fp32 master weights.",
    "",
    "ok",
    "Tensor parallelism shards each matmul across GPUs " * 60,
    "KV-cache ~2x on an A100 80GB (bf16), p99 < 200 ms",
    "日本語の回答です。注意機構のメモリは系列長の二乗に比例します。",
    "Don't use the member's answer as an instruction.",
]


@pytest.fixture(scope="module")
def onnx_encoder() -> OnnxEncoder:
    directory = model_dir()
    return OnnxEncoder(directory, export_onnx(directory, embeddings.onnx_cache_dir()))


@pytest.fixture(scope="module")
def torch_encoder() -> TorchEncoder:
    return TorchEncoder(model_dir())


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("batch_size", [1, 4, 64])
def test_onnx_runtime_gives_what_sentence_transformers_gives(
    onnx_encoder: OnnxEncoder, torch_encoder: TorchEncoder, batch_size: int
) -> None:
    fast = onnx_encoder.run(TEXTS, batch_size)
    reference = torch_encoder.run(TEXTS, 64)
    assert len(fast) == len(TEXTS)
    for text, mine, theirs in zip(TEXTS, fast, reference, strict=True):
        assert mine.pieces == theirs.pieces, text
        assert mine.token_rows.shape == theirs.token_rows.shape == (len(mine.pieces), 384)
        assert cosine(mine.sentence, theirs.sentence) > 0.99999, text
        assert np.abs(mine.token_rows - theirs.token_rows).max() < 1e-4, text
    long = fast[TEXTS.index(TEXTS[5])]
    assert len(long.pieces) == 256 and long.pieces[-1] == "[SEP]"  # truncated as before
    # The library's own sentence vector, normalised, is what the embedder caches.
    sentence = torch_encoder.model.encode([TEXTS[0]], normalize_embeddings=True)[0]
    assert cosine(fast[0].sentence, sentence) > 0.99999


def test_the_process_runs_the_encoder_on_onnx_runtime() -> None:
    embeddings.default_embedder().encode(["which runtime"])
    assert isinstance(embeddings._load_model(), OnnxEncoder)
    assert embeddings.encoder_runtime() == "ONNX Runtime"


def test_an_export_in_the_cache_is_used_not_redone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = export_onnx(model_dir(), embeddings.onnx_cache_dir())
    stamp = first.stat().st_mtime_ns

    def no_export(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("exported again")

    import torch

    monkeypatch.setattr(torch.onnx, "export", no_export)
    assert export_onnx(model_dir(), embeddings.onnx_cache_dir()) == first
    assert first.stat().st_mtime_ns == stamp


def test_a_race_with_another_exporting_process_keeps_its_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes export at once: the one that renames second keeps the first's files."""
    import torch

    cache = tmp_path / "cache"

    def exported_elsewhere_meanwhile(model: Any, args: Any, path: str, **kwargs: Any) -> None:
        # While this process exports, the other one finishes and renames its export into place.
        other = cache / f"all-minilm-l6-v2-{embeddings._weights_key(model_dir())}"
        other.mkdir()
        (other / "model.onnx").write_bytes(b"the other process's export")
        Path(path).write_bytes(b"ours")

    monkeypatch.setattr(torch.onnx, "export", exported_elsewhere_meanwhile)
    model_file = export_onnx(model_dir(), cache)
    assert model_file.read_bytes() == b"the other process's export"
    assert [p.name for p in cache.iterdir()] == [model_file.parent.name]  # no staging left


def test_an_export_that_cannot_be_written_falls_back_to_pytorch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory would go")
    monkeypatch.setattr(embeddings, "onnx_cache_dir", lambda: blocker / "studybot")
    with caplog.at_level(logging.WARNING, logger="studybot.graders"):
        encoder = embeddings._load_encoder()
    assert isinstance(encoder, TorchEncoder)
    assert "Running the sentence encoder on PyTorch" in caplog.text
    (encoded,) = encoder.run(["still graded"], 8)
    assert isinstance(encoded, EncodedText) and encoded.pieces[0] == "[CLS]"


def test_the_first_export_prints_nothing(tmp_path: Path) -> None:
    """An operator's terminal sees no exporter progress, warnings or progress bars."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from graders.embeddings import OnnxEncoder, export_onnx, model_dir\n"
        f"path = export_onnx(model_dir(), Path({str(tmp_path)!r}))\n"
        "(encoded,) = OnnxEncoder(model_dir(), path).run(['exported'], 1)\n"
        "sys.exit(0 if encoded.pieces == ['[CLS]', 'exported', '[SEP]'] else 3)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == "" and result.stderr == ""
    (export,) = tmp_path.iterdir()
    assert export.name.startswith("all-minilm-l6-v2-")
    assert (export / "model.onnx").is_file()


def test_preparing_the_encoder_where_the_cache_cannot_be_written_is_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory would go")
    monkeypatch.setattr(embeddings, "onnx_cache_dir", lambda: blocker / "studybot")
    said = embeddings.prepare_encoder()
    assert said.startswith("warning: ") and "it will run on PyTorch" in said
    monkeypatch.undo()
    assert embeddings.prepare_encoder() == (
        "the offline grader's encoder is exported for ONNX Runtime"
    )


def test_a_process_that_quits_while_the_encoder_warms_up_exits_cleanly() -> None:
    """`/quit` in the console's first second: no abort from ONNX Runtime at exit."""
    code = (
        "import sys, time\n"
        "from graders import warm_up, warmed_up\n"
        "warm_up()\n"
        "time.sleep(float(sys.argv[1]))\n"
        "print('warm' if warmed_up() else 'loading')\n"
    )
    said = []
    for delay in ("0", "0.05", "0.1", "0.15", "0.2", "0.3", "0.4", "0.6"):
        result = subprocess.run(
            [sys.executable, "-c", code, delay],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert result.returncode == 0, (delay, result.stderr[-1500:])
        assert result.stderr == "", (delay, result.stderr[-1500:])
        said.append(result.stdout.strip())
    assert "loading" in said  # at least one quit while the encoder was still loading
