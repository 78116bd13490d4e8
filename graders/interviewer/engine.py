"""The interviewer a solo mock talks to: the LLM when it may and can, else the scripted one.

- No model configured: the scripted interviewer, always.
- A model reply that fails the checks (`checks.check_reply`) is replaced by the scripted reply;
  the note says why, and the next line asks the model again.
- Over the mock's token cap, over the cohort's daily budget, or the model failing: the mock
  continues on the scripted interviewer for good and says so once (the notice is found in the
  transcript, so a restarted bot does not say it again).
"""

from __future__ import annotations

from dataclasses import dataclass

from graders.budget import TokenBudget
from graders.embeddings import Embedder
from graders.interviewer.checks import check_reply
from graders.interviewer.llm import InterviewerUnavailable, LLMInterviewer, chat_messages
from graders.interviewer.llm import estimate_tokens as estimate
from graders.interviewer.model import InterviewerReply, TurnContext
from graders.interviewer.scripted import ScriptedInterviewer

FALLBACK_NOTE = "fallback"


def fallback_notice(reason: str) -> str:
    """Return what the room is told once when the mock moves to the scripted interviewer."""
    return (
        f"(StudyBot's interviewer model is not available: {reason}. The interview continues "
        "with the scripted interviewer from the guide.)"
    )


@dataclass(frozen=True)
class Spend:
    """Who pays for a solo mock's model calls, and how much the mock has used."""

    budget_key: str  # the cohort's daily counter
    used: int  # tokens this mock spent so far
    cap: int  # the most one solo mock may spend


class GuardedInterviewer:
    """The LLM interviewer behind the checks, the caps and the scripted fallback."""

    def __init__(
        self,
        scripted: ScriptedInterviewer,
        embedder: Embedder,
        *,
        llm: LLMInterviewer | None = None,
        budget: TokenBudget | None = None,
    ) -> None:
        self.scripted = scripted
        self.llm = llm
        self.budget = budget
        self._embedder = embedder

    @property
    def name(self) -> str:
        """Return the engine a new solo mock starts on."""
        return "llm" if self.llm is not None else "scripted"

    async def reply(self, ctx: TurnContext, spend: Spend | None = None) -> InterviewerReply:
        """Return the interviewer's next line, checked, within the caps."""
        if self.llm is None or self.fell_back(ctx):
            return await self.scripted.reply(ctx)
        spend = spend or Spend("solo", 0, 1 << 30)
        want = estimate(chat_messages(ctx))
        if spend.used + want > spend.cap:
            return await self._fall_back(ctx, "this mock used its token allowance")
        reservation = None
        if self.budget is not None:
            reservation = await self.budget.reserve(spend.budget_key, want)
            if reservation is None:
                return await self._fall_back(ctx, "the cohort's daily budget is spent")
        try:
            answer = await self.llm.reply(ctx)
        except InterviewerUnavailable as exc:
            if reservation is not None and self.budget is not None:
                await self.budget.settle(reservation, exc.tokens)
            replaced = await self._fall_back(ctx, exc.reason)
            return InterviewerReply(
                replaced.text, replaced.intent, replaced.engine, exc.tokens, 0.0, replaced.note
            )
        if reservation is not None and self.budget is not None:
            await self.budget.settle(reservation, answer.tokens)
        verdict = check_reply(answer.text, ctx, self._embedder)
        if verdict.ok:
            return answer
        scripted = await self.scripted.reply(ctx)
        return InterviewerReply(
            text=scripted.text,
            intent=scripted.intent,
            engine=scripted.engine,
            tokens=answer.tokens,
            llm_s=answer.llm_s,
            note=f"replaced: {verdict.reason}",
        )

    @staticmethod
    def fell_back(ctx: TurnContext) -> bool:
        """Tell whether this mock already moved to the scripted interviewer."""
        return any(t.note == FALLBACK_NOTE for t in ctx.transcript)

    async def _fall_back(self, ctx: TurnContext, reason: str) -> InterviewerReply:
        scripted = await self.scripted.reply(ctx)
        return InterviewerReply(
            text=f"{fallback_notice(reason)} {scripted.text}",
            intent=scripted.intent,
            engine=scripted.engine,
            note=FALLBACK_NOTE,
        )
