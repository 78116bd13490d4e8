"""`studybot mock demo`: the timeline of a whole mock run by real bot processes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bot.errors import InvalidInput
from bot.mock_demo import demo_command


def run_cli(*args: str, speed: int = 600) -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "mock", "demo", "--speed", str(speed), "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout)


def due(timeline: list[dict], kind: str) -> list[float]:
    return [e["due_min"] for e in timeline if e["kind"] == kind and e["status"] == "sent"]


PHASE_ENDS = {"clarify": 5, "high-level-design": 15, "deep-dive": 30, "scale-reliability": 40}


@pytest.mark.parametrize("speed", [600, 6000])
def test_the_whole_mock_comes_once_each(speed: int) -> None:
    # At 6000x a fast second is 0.17 ms: the claims' send window is kept in real time.
    timeline = run_cli(speed=speed)
    assert due(timeline, "phase") == [0, 5, 15, 30, 40]
    assert due(timeline, "end") == [45]
    # Each phase's one-minute warning is said or, when the machine stalled until the phase's
    # end passed (a fast minute is 100 ms at 600x, 10 ms at 6000x), dropped: said once or
    # recorded as dropped once, never lost.
    warnings = [e for e in timeline if e["kind"] == "warning"]
    assert sorted(e["phase"] for e in warnings) == sorted([*PHASE_ENDS, "wrap-up"])
    for e in warnings:
        end = PHASE_ENDS.get(e["phase"], 45)
        if e["status"] == "sent":
            assert e["due_min"] == end - 1
        else:
            assert e["status"] == "dropped" and e["sent_min"] >= end
    assert [e["phase"] for e in timeline if e["kind"] == "phase"] == [
        "clarify",
        "high-level-design",
        "deep-dive",
        "scale-reliability",
        "wrap-up",
    ]
    assert all(e["sent_min"] >= e["due_min"] for e in timeline)
    assert {e["process"] for e in timeline} == {"bot-1"}


def test_pause_moves_later_ones_and_a_killed_process_is_replaced() -> None:
    timeline = run_cli("--pause-at", "10", "--resume-at", "13", "--restart-at", "20")
    assert due(timeline, "phase") == [0, 5, 18, 33, 43]
    assert due(timeline, "end") == [48]
    keys = Counter((e["kind"], e["phase"]) for e in timeline)
    assert all(n == 1 for n in keys.values())
    boundaries = [e for e in timeline if e["kind"] != "warning"]
    assert len(boundaries) == 6  # every boundary once, none lost to the restart
    assert {e["process"] for e in timeline if e["due_min"] > 21} == {"bot-2"}
    assert {e["process"] for e in timeline if e["due_min"] < 19} == {"bot-1"}


def test_a_bot_process_that_never_ends_the_mock_is_reported_in_a_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from bot import mock_demo
    from bot.errors import Unavailable

    def stuck(*args: object, **kwargs: object) -> subprocess.Popen[str]:
        # A bot process that starts and never ends the room.
        return subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(600)"],
            stdin=subprocess.PIPE,
            text=True,
        )

    monkeypatch.setattr(mock_demo, "_spawn", stuck)
    monkeypatch.setattr(mock_demo, "DEMO_GRACE_S", 0.5)
    with pytest.raises(Unavailable, match="had not ended the mock") as caught:
        asyncio.run(
            mock_demo.run_demo(
                speed=6000, pause_at=None, resume_at=None, restart_at=None, workdir=tmp_path
            )
        )
    assert "0 announcements made" in str(caught.value) and "--speed 600" in str(caught.value)


@pytest.mark.parametrize(
    "args",
    [
        {"speed": 0, "pause_at": None, "resume_at": None, "restart_at": None},
        {"speed": 600, "pause_at": 10, "resume_at": None, "restart_at": None},
        {"speed": 600, "pause_at": 13, "resume_at": 10, "restart_at": None},
        {"speed": 600, "pause_at": None, "resume_at": None, "restart_at": 50},
    ],
)
def test_bad_options_are_explained(args: dict) -> None:
    with pytest.raises(InvalidInput):
        demo_command(as_json=True, **args)


def test_the_solo_demo_prints_the_transcript_and_scorecard_shape() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "mock", "demo", "--solo", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    record = json.loads(out.stdout)
    assert set(record) == {"transcript", "scorecard"}
    assert set(record["scorecard"]) == {"aspects", "flags"}
    slugs = {"clarify", "high-level-design", "deep-dive", "scale-reliability", "wrap-up"}
    for line in record["transcript"]:
        assert set(line) == {"minute", "phase", "speaker", "text"}
        assert line["phase"] in slugs and line["speaker"] in ("interviewer", "candidate")
        assert isinstance(line["minute"], float)
    minutes = [line["minute"] for line in record["transcript"]]
    assert minutes == sorted(minutes) and minutes[-1] <= 45
    assert [line["phase"] for line in record["transcript"] if line["speaker"] == "interviewer"][
        0
    ] == "clarify"
    said = "\n".join(t["text"] for t in record["transcript"] if t["speaker"] == "candidate")
    for aspect in record["scorecard"]["aspects"]:
        assert set(aspect) == {"aspect", "rating", "evidence"}
        assert aspect["rating"] in ("no hire", "hire", "strong hire")
        assert all(quote in said for quote in aspect["evidence"])
    assert set(record["scorecard"]["flags"]) == {"red", "green"}
