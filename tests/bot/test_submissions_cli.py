"""`studybot submit` and `studybot drill board`: the local cohort, through the configured runner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.settings import get_settings
from bot.store.migrate import upgrade
from tests.gpu_runner.runner_support import require_sandbox

KV = (
    "def kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, bytes_per_element=2, batch=1):\n"
    "    return 2 * n_layers * n_kv_heads * head_dim * seq_len * bytes_per_element * batch\n"
)
runner = CliRunner()


@pytest.fixture
def local_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'studybot.db'}"
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "STUDYBOT_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STUDYBOT_DB_URL", url)
    monkeypatch.setenv("STUDYBOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STUDYBOT_RUNNER_BACKEND", "local")
    monkeypatch.setenv("STUDYBOT_RUNNER_TIMING", "false")
    get_settings.cache_clear()
    upgrade(url)
    yield tmp_path
    get_settings.cache_clear()


def test_submit_prints_the_stored_result_and_the_board_lists_only_timed_passes(
    local_db: Path,
) -> None:
    require_sandbox()
    path = local_db / "kv.py"
    path.write_text(KV)
    result = runner.invoke(app, ["submit", "kv_cache_bytes", str(path), "--as", "bob", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["submission_id"] == 1 and shown["status"] == "done"
    assert shown["verdict"] == "passed" and shown["points"] == 15
    assert shown["rank"] is None  # judged without timing: not ranked
    again = runner.invoke(app, ["submit", "kv_cache_bytes", str(path), "--as", "bob", "--json"])
    assert json.loads(again.stdout)["points"] == 0  # the same drill passed again earns nothing
    board = runner.invoke(app, ["drill", "board", "kv_cache_bytes", "--json"])
    assert board.exit_code == 0, board.output
    assert json.loads(board.stdout) == {"drill": "kv_cache_bytes", "device_kind": "cpu", "rows": []}


def test_submit_refuses_bad_input_with_one_line(local_db: Path) -> None:
    broken = local_db / "broken.py"
    broken.write_text("def kv_cache_bytes(:\n")
    for args, says in (
        (["submit", "kv_cache_bytes", str(broken)], "syntax error on line 1"),
        (["submit", "nope", str(broken)], "There is no drill called 'nope'"),
        (["submit", "kv_cache_bytes", str(local_db / "missing.py")], "There is no file at"),
        (["drill", "board", "kv_cache_bytes", "--device", "GPU!"], "is not a device kind"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert says in result.stderr and "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1
