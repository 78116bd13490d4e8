"""Build the grader a deployment asks for."""

from __future__ import annotations

from graders.budget import TokenBudget
from graders.cache import CachedGrader, GradeCache
from graders.cascade import CascadeGrader
from graders.llm import LLMConfig, LLMGrader
from graders.models import Grader, GraderError, GraderKind
from graders.offline import OfflineGrader


def build_grader(
    kind: GraderKind,
    *,
    llm: LLMConfig | None = None,
    cache: GradeCache | None = None,
    budget: TokenBudget | None = None,
    budget_key: str | None = None,
) -> Grader:
    """Return the offline, LLM or cascade grader, cached when a cache is given."""
    offline = OfflineGrader()
    grader: Grader
    if kind == "offline":
        grader = offline
    elif llm is None:
        raise GraderError(
            f"The {kind} grader needs an LLM endpoint: set OPENAI_BASE_URL and "
            "STUDYBOT_GRADER_MODEL (and OPENAI_API_KEY if the server wants one), "
            "or use the offline grader."
        )
    elif kind == "llm":
        grader = LLMGrader(llm, offline=offline, budget=budget, budget_key=budget_key or "default")
    elif kind == "cascade":
        grader = CascadeGrader(
            llm, offline=offline, budget=budget, budget_key=budget_key or "default"
        )
    else:
        raise GraderError(f"Unknown grader {kind!r}; choose offline, llm or cascade.")
    if cache is not None:
        grader = CachedGrader(grader, cache, kind=kind)
    return grader


def offline_part(grader: object) -> OfflineGrader:
    """Return the offline grader inside a grader (cached, LLM or cascade), or a new one."""
    seen = 0
    current = grader
    while seen < 5:
        if isinstance(current, OfflineGrader):
            return current
        offline = getattr(current, "offline", None)
        if isinstance(offline, OfflineGrader):
            return offline
        current = getattr(current, "inner", None)
        if current is None:
            break
        seen += 1
    return OfflineGrader()
