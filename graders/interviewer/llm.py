"""The LLM interviewer: an OpenAI-compatible model plays the guide's interviewer.

The system prompt carries the guide's phases, the scenario and its facts, and the rules (answer
only from the facts, never give the design away, one short question at a time); the messages
carry the conversation so far. The reply is returned as the model wrote it: the guarded engine
(`graders.interviewer.engine`) checks it before anything is posted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

from graders.interviewer.model import InterviewerReply, Turn, TurnContext
from graders.llm import LLMConfig

# Past this many lines, only the newest are sent (with the system prompt): a bounded prompt.
MAX_TURNS_SENT = 40
MAX_REPLY_TOKENS = 220


class InterviewerUnavailable(Exception):
    """The model could not answer (down, refused, timed out); `tokens` were spent anyway."""

    def __init__(self, reason: str, *, tokens: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tokens = tokens


def system_prompt(ctx: TurnContext) -> str:
    """Return the interviewer's instructions: the guide, the scenario, its facts, the rules."""
    guide, scenario = ctx.guide, ctx.scenario
    phases = "\n".join(
        f"- {p.slug} ({p.start_min:g}-{p.end_min:g} min): {p.focus}; "
        f"wants {', '.join(p.deliverables)}"
        for p in guide.phases
    )
    facts = "\n".join(f"- Q: {f.question} A: {f.answer}" for f in scenario.facts)
    traps = "\n".join(f"- {t.question}" for t in guide.traps if scenario.full_brief or t.generic)
    return (
        "You are the interviewer in a 45-minute ML system design mock interview. "
        "You follow this guide.\n"
        f"Phases:\n{phases}\n"
        f"Scenario: {scenario.title}. {scenario.text}\n"
        f"The scenario's facts (the ONLY requirements you may state):\n{facts}\n"
        f"Trap questions you may ask in the deep dive:\n{traps}\n"
        "Rules: answer clarifying questions only from the facts above; when a question is "
        "outside them, say it is outside what the scenario specifies and ask the candidate to "
        "state an assumption. Never add requirements, numbers or constraints of your own. "
        "Never propose a design, component or solution: the candidate designs, you ask. "
        "If the candidate designs before asking clarifying questions, say a real interviewer "
        "would flag it. Push back once on a weak, vague answer. Ask one short question at a "
        "time, at most 80 words, plain text."
    )


def chat_messages(ctx: TurnContext) -> list[dict[str, str]]:
    """Return the chat messages: instructions, the conversation, where the interview stands."""
    turns: Sequence[Turn] = ctx.transcript[-MAX_TURNS_SENT:]
    messages = [{"role": "system", "content": system_prompt(ctx)}]
    for turn in turns:
        role = "assistant" if turn.speaker == "interviewer" else "user"
        messages.append({"role": role, "content": turn.text})
    phase = ctx.guide.phase(ctx.phase)
    messages.append(
        {
            "role": "system",
            "content": f"Now: minute {ctx.minute:.0f}, phase {phase.slug} ({phase.focus}). "
            "Reply to the candidate's last message as the interviewer.",
        }
    )
    return messages


def estimate_tokens(messages: Sequence[dict[str, str]]) -> int:
    """Return a rough token count of a prompt (four characters a token) plus the reply."""
    return sum(len(m["content"]) for m in messages) // 4 + MAX_REPLY_TOKENS


class LLMInterviewer:
    """An OpenAI-compatible model as the interviewer (unchecked: see the guarded engine)."""

    name = "llm"

    def __init__(self, config: LLMConfig) -> None:
        self.config = config
        self._client: Any = None

    def _openai(self) -> Any:
        if self._client is None:
            import openai

            self._client = openai.AsyncOpenAI(
                base_url=self.config.base_url,
                api_key=self.config.api_key.get_secret_value(),
                timeout=self.config.timeout_s,
                max_retries=0,  # a failure mid-mock falls back to the scripted engine at once
            )
        return self._client

    async def reply(self, ctx: TurnContext) -> InterviewerReply:
        """Ask the model for the interviewer's next line."""
        import openai

        messages = chat_messages(ctx)
        started = time.perf_counter()
        try:
            response = await self._openai().chat.completions.create(
                model=self.config.model,
                messages=cast(Any, messages),
                temperature=0.3,
                max_tokens=MAX_REPLY_TOKENS,
            )
        except openai.APITimeoutError as exc:
            raise InterviewerUnavailable(
                "the model timed out", tokens=estimate_tokens(messages)
            ) from exc
        except openai.APIError as exc:
            raise InterviewerUnavailable(f"the model failed ({type(exc).__name__})") from exc
        elapsed = time.perf_counter() - started
        content = response.choices[0].message.content if response.choices else None
        usage = response.usage
        tokens = usage.total_tokens if usage is not None else estimate_tokens(messages)
        if not content or not content.strip():
            raise InterviewerUnavailable("the model said nothing", tokens=tokens)
        return InterviewerReply(
            text=content.strip(), intent="llm", engine=self.name, tokens=tokens, llm_s=elapsed
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.close()
            self._client = None
