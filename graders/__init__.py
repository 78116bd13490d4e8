"""Rubric grading of written answers: offline (embeddings), LLM, and the cascade of both.

Importing this package loads neither torch nor the sentence encoder; the encoder loads on the
first offline grade, once per process.
"""

from graders.budget import MemoryTokenBudget, RedisTokenBudget, TokenBudget
from graders.cache import CachedGrader, GradeCache, MemoryGradeCache, RedisGradeCache
from graders.cascade import CascadeGrader
from graders.command import grade_json, read_answer_file, resolve_question
from graders.factory import build_grader, offline_part
from graders.llm import LLMConfig, LLMGrader, draft_rubric
from graders.models import (
    MAX_ANSWER_CHARS,
    VERDICT_MARK,
    Grade,
    Grader,
    GraderError,
    GraderKind,
    GradingDelayed,
    PointGrade,
    RubricQuestion,
    Verdict,
)
from graders.offline import OfflineGrader, warm_up, warmed_up

__all__ = [
    "MAX_ANSWER_CHARS",
    "VERDICT_MARK",
    "CachedGrader",
    "CascadeGrader",
    "Grade",
    "GradeCache",
    "Grader",
    "GraderError",
    "GraderKind",
    "GradingDelayed",
    "LLMConfig",
    "LLMGrader",
    "MemoryGradeCache",
    "MemoryTokenBudget",
    "OfflineGrader",
    "PointGrade",
    "RedisGradeCache",
    "RedisTokenBudget",
    "RubricQuestion",
    "TokenBudget",
    "Verdict",
    "build_grader",
    "draft_rubric",
    "grade_json",
    "offline_part",
    "read_answer_file",
    "resolve_question",
    "warm_up",
    "warmed_up",
]
