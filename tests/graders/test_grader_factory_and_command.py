"""Building graders, and the pieces `studybot grade` uses: question lookup, answer file, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graders import build_grader
from graders.cache import CachedGrader, MemoryGradeCache
from graders.cascade import CascadeGrader
from graders.command import grade_json, read_answer_file, resolve_question
from graders.llm import LLMConfig, LLMGrader
from graders.models import MAX_ANSWER_CHARS, Grader, GraderError
from graders.offline import OfflineGrader
from tests.graders.samples import ADAMW, STRONG_ADAMW

LLM = LLMConfig(base_url="http://127.0.0.1:9/v1", model="m")


def test_build_grader_gives_each_kind() -> None:
    assert isinstance(build_grader("offline"), OfflineGrader)
    assert isinstance(build_grader("llm", llm=LLM), LLMGrader)
    cascade = build_grader("cascade", llm=LLM, budget_key="cohort-7")
    assert isinstance(cascade, CascadeGrader) and cascade.budget_key == "cohort-7"
    cached = build_grader("cascade", llm=LLM, cache=MemoryGradeCache())
    assert isinstance(cached, CachedGrader) and isinstance(cached.inner, CascadeGrader)
    for grader in (cascade, cached):
        assert isinstance(grader, Grader)


@pytest.mark.parametrize("kind", ["llm", "cascade"])
def test_llm_kinds_without_an_endpoint_say_what_to_set(kind: str) -> None:
    with pytest.raises(GraderError, match="OPENAI_BASE_URL"):
        build_grader(kind)  # type: ignore[arg-type]


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(GraderError, match="offline, llm or cascade"):
        build_grader("magic", llm=LLM)  # type: ignore[arg-type]


def test_resolve_question_finds_ids_and_suggests_close_ones() -> None:
    questions = {"E1-005": ADAMW, "E3-082": ADAMW.model_copy(update={"id": "E3-082"})}
    assert resolve_question(" e1-005 ", questions) is ADAMW
    with pytest.raises(GraderError, match="Unknown question id 'E3-083'.*E3-082"):
        resolve_question("E3-083", questions)
    with pytest.raises(GraderError, match="Unknown question id 'nonsense'"):
        resolve_question("nonsense", questions)


def test_read_answer_file(tmp_path: Path) -> None:
    path = tmp_path / "answer.txt"
    path.write_bytes("\ufeffKV cache: 2 × L × H × d × bytes ✅\n".encode())
    assert read_answer_file(path) == "KV cache: 2 × L × H × d × bytes ✅\n"
    with pytest.raises(GraderError, match="No answer file"):
        read_answer_file(tmp_path / "missing.txt")
    with pytest.raises(GraderError, match="directory"):
        read_answer_file(tmp_path)
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(GraderError, match="not UTF-8"):
        read_answer_file(path)
    path.write_text("x" * (MAX_ANSWER_CHARS * 5))
    with pytest.raises(GraderError, match="too large"):
        read_answer_file(path)


async def test_grade_json_has_the_documented_shape(offline_grader: OfflineGrader) -> None:
    grade = await offline_grader.grade(ADAMW, STRONG_ADAMW)
    document = json.loads(grade_json(grade))
    assert document["question_id"] == "E1-005"
    assert 0 <= document["score"] <= 1
    assert [p["rubric"] for p in document["points"]] == list(ADAMW.rubric)
    for point in document["points"]:
        assert point["verdict"] in {"covered", "partial", "missing"}
        assert point["evidence"] == "" or point["evidence"] in STRONG_ADAMW
        assert point["decided_by"] == "offline"
    assert "≈ 56 GB" in grade_json(grade)
