"""`studybot grade`: one answer, or a JSONL file of many graded with one model load."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()

GOOD = (
    "Each token stores a key and a value per layer and KV head: 2 x layers x KV heads x head dim "
    "x bytes per element, times the tokens. For Llama 3 70B that is 2 x 80 x 8 x 128 x 2 bytes, "
    "about 320 KB per token, so a 4K context takes roughly 1.3 GB."
)


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_file_of_answers_gives_one_compact_grade_per_line_in_order(tmp_path: Path) -> None:
    answers = _write_lines(
        tmp_path / "answers.jsonl",
        [
            json.dumps({"question": "E3-082", "answer": GOOD}),
            "this is not json",
            json.dumps({"question": "E99-999", "answer": "anything"}),
            "",
            json.dumps({"question": "e12-466", "answer": "Subtract the max, then exp and sum."}),
            json.dumps({"question": "E1-008", "answer": 42}),
            json.dumps({"question": "E1-008", "answer": "   "}),
        ],
    )
    result = runner.invoke(app, ["grade", "--answers-file", str(answers), "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 6
    outputs = [json.loads(line) for line in lines]
    first = outputs[0]
    assert first["question_id"] == "E3-082" and len(first["points"]) == 3
    # Same fields as the single-answer --json, on one line.
    single_file = tmp_path / "one.txt"
    single_file.write_text(GOOD, encoding="utf-8")
    single = runner.invoke(
        app, ["grade", "--question", "E3-082", "--answer-file", str(single_file), "--json"]
    )
    assert single.exit_code == 0, single.output
    assert set(json.loads(single.stdout)) == set(first)
    assert json.loads(single.stdout)["points"][0]["verdict"] == first["points"][0]["verdict"]
    assert outputs[1] == {"error": outputs[1]["error"]} and "line 2" in outputs[1]["error"]
    assert "line 3" in outputs[2]["error"] and "E99-999" in outputs[2]["error"]
    sketch = outputs[3]
    assert sketch["question_id"] == "E12-466"
    assert any("solution sketch" in notice for notice in sketch["notices"])
    assert "line 6" in outputs[4]["error"] and '"answer"' in outputs[4]["error"]
    assert "line 7" in outputs[5]["error"] and "empty" in outputs[5]["error"]
    assert "Traceback" not in result.output


def test_batch_and_single_options_do_not_mix(tmp_path: Path) -> None:
    answers = _write_lines(
        tmp_path / "a.jsonl", [json.dumps({"question": "E1-008", "answer": "x"})]
    )
    mixed = runner.invoke(
        app, ["grade", "--answers-file", str(answers), "--question", "E1-008", "--json"]
    )
    assert mixed.exit_code == 1 and "either --answers-file" in mixed.output
    neither = runner.invoke(app, ["grade", "--json"])
    assert neither.exit_code == 1 and "--answers-file" in neither.output
    missing = runner.invoke(app, ["grade", "--answers-file", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 1 and "no answers file" in missing.output
