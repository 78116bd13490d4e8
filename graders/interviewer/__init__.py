"""The solo mock's interviewer: a scripted engine from the guide and an LLM engine, one port.

Beside the graders, never importing the bot: the bot hands in the guide and the scenario
(`from_guide`, `scenario_brief`) and the conversation so far (`Turn`), and gets back the
interviewer's line (`InterviewerReply`) or, at the end, the scorecard (`score_transcript`).
"""

from graders.interviewer.checks import CheckResult, check_reply
from graders.interviewer.engine import FALLBACK_NOTE, GuardedInterviewer, Spend, fallback_notice
from graders.interviewer.guide import from_guide, phase_slug, scenario_brief
from graders.interviewer.llm import InterviewerUnavailable, LLMInterviewer
from graders.interviewer.model import (
    Aspect,
    AspectRating,
    Fact,
    GuideBrief,
    Interviewer,
    InterviewerReply,
    PhaseBrief,
    Practice,
    ScenarioBrief,
    SoloScorecard,
    Trap,
    Turn,
    TurnContext,
)
from graders.interviewer.scorecard import score_transcript
from graders.interviewer.scripted import ScriptedInterviewer, phase_prompt

__all__ = [
    "FALLBACK_NOTE",
    "Aspect",
    "AspectRating",
    "CheckResult",
    "Fact",
    "GuardedInterviewer",
    "GuideBrief",
    "Interviewer",
    "InterviewerReply",
    "InterviewerUnavailable",
    "LLMInterviewer",
    "PhaseBrief",
    "Practice",
    "ScenarioBrief",
    "ScriptedInterviewer",
    "SoloScorecard",
    "Spend",
    "Trap",
    "Turn",
    "TurnContext",
    "check_reply",
    "fallback_notice",
    "from_guide",
    "phase_prompt",
    "phase_slug",
    "scenario_brief",
    "score_transcript",
]
