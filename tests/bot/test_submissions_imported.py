"""`studybot drill import`: a problem folder becomes a drill, stored, listed and judged."""

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

PROBLEM = Path(__file__).parents[1] / "gpu_runner" / "problems" / "axpy_relu"
CORRECT = """
import torch
from task import input_t, output_t


def custom_kernel(data: input_t) -> output_t:
    x, y, alpha = data
    return torch.relu(x * alpha + y)
"""
WRONG = """
import torch


def custom_kernel(data):
    x, y, alpha = data
    return torch.relu(x + y)
"""
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


def test_only_admins_import(local_db: Path) -> None:
    runner.invoke(app, ["submit", "nope", str(local_db / "x.py"), "--as", "bob"])  # bob joins
    result = runner.invoke(app, ["drill", "import", str(PROBLEM), "--as", "bob"])
    assert result.exit_code == 1
    assert "Only admins can import drills" in result.stderr


def test_an_imported_problem_is_stored_and_judges_a_correct_and_a_wrong_kernel(
    local_db: Path,
) -> None:
    require_sandbox()
    result = runner.invoke(app, ["drill", "import", str(PROBLEM), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["id"] == "gpumode_axpy_relu" and summary["tests"] == 3
    assert summary["device"] == "cpu" and summary["files"] == [
        "reference.py",
        "task.py",
        "utils.py",
    ]
    # Importing again replaces it rather than failing or duplicating it.
    assert runner.invoke(app, ["drill", "import", str(PROBLEM)]).exit_code == 0

    good, bad = local_db / "good.py", local_db / "bad.py"
    good.write_text(CORRECT)
    bad.write_text(WRONG)
    ok = runner.invoke(app, ["submit", "gpumode_axpy_relu", str(good), "--as", "bob", "--json"])
    assert ok.exit_code == 0, ok.output
    shown = json.loads(ok.stdout)
    assert shown["verdict"] == "passed" and shown["device_kind"] == "cpu"
    no = runner.invoke(app, ["submit", "gpumode_axpy_relu", str(bad), "--as", "eve", "--json"])
    wrong = json.loads(no.stdout)
    assert wrong["verdict"] == "wrong"
    assert "differ from the reference" in wrong["message"]
