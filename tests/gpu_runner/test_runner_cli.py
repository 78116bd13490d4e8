"""`studybot drill list | template | judge` as a member or a script uses them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpu_runner import sandbox
from gpu_runner.cli import app
from gpu_runner.drills import DRILLS, get_drill
from tests.gpu_runner.runner_support import require_sandbox

pytestmark = pytest.mark.timeout(120)
runner = CliRunner()

KV_CACHE = (
    "def kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, bytes_per_element=2, batch=1):\n"
    "    return 2 * n_layers * n_kv_heads * head_dim * seq_len * bytes_per_element * batch\n"
)


def test_list_json_names_every_drill_with_its_signature() -> None:
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0
    listed = json.loads(result.stdout)
    assert [d["id"] for d in listed] == list(DRILLS)
    softmax = next(d for d in listed if d["id"] == "softmax")
    assert softmax["signature"].startswith("def softmax(x")


def test_template_prints_the_starter_file() -> None:
    result = runner.invoke(app, ["template", "softmax"])
    assert result.exit_code == 0
    assert result.stdout == get_drill("softmax").template


def test_an_unknown_drill_is_one_clear_line_and_exit_1() -> None:
    result = runner.invoke(app, ["template", "nope"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown drill 'nope'")


def test_judging_a_missing_file_is_exit_1(tmp_path: Path) -> None:
    result = runner.invoke(app, ["judge", "softmax", str(tmp_path / "absent.py")])
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error: no such file")


def test_judge_json_reports_verdict_drill_message_timing_and_sandbox(tmp_path: Path) -> None:
    require_sandbox()
    path = tmp_path / "kv.py"
    path.write_text(KV_CACHE)
    result = runner.invoke(app, ["judge", "kv_cache_bytes", str(path), "--json", "--no-timing"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["verdict"] == "passed"
    assert payload["drill"] == "kv_cache_bytes"
    assert payload["timing"] is None
    assert "bubblewrap" in payload["sandbox"]
    assert payload["message"].startswith("passed all")


def test_a_failing_verdict_exits_2_and_renders_for_a_person(tmp_path: Path) -> None:
    require_sandbox()
    path = tmp_path / "kv.py"
    path.write_text(KV_CACHE.replace("2 * n_layers", "n_layers"))
    result = runner.invoke(app, ["judge", "kv_cache_bytes", str(path), "--no-timing"])
    assert result.exit_code == 2
    assert "WRONG" in result.stdout and "expected" in result.stdout


def test_no_sandbox_is_one_clear_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "_which", lambda name: None)
    path = tmp_path / "kv.py"
    path.write_text(KV_CACHE)
    result = runner.invoke(app, ["judge", "kv_cache_bytes", str(path), "--json"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bubblewrap" in lines[0] and "--unsafe-no-sandbox" in lines[0]


def test_unsafe_mode_is_flagged_in_the_json(tmp_path: Path) -> None:
    path = tmp_path / "kv.py"
    path.write_text(KV_CACHE)
    result = runner.invoke(
        app,
        ["judge", "kv_cache_bytes", str(path), "--json", "--no-timing", "--unsafe-no-sandbox"],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["unsafe"] is True
    assert payload["message"].startswith("[UNSAFE")
