"""The solo mock's interviewer engines: the same behaviour from the scripted and the LLM engine.

The LLM engine talks to the local scripted OpenAI-compatible server. For the behaviour tests
the server plays a faithful interviewer (it answers what the guide's interviewer would), so the
same assertions hold for both engines through the whole path: prompt, HTTP, checks. Other tests
script a misbehaving or failing model and check the guard replaces or falls back.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from content import load_library
from graders.budget import MemoryTokenBudget
from graders.embeddings import default_embedder
from graders.interviewer import (
    FALLBACK_NOTE,
    GuardedInterviewer,
    GuideBrief,
    LLMInterviewer,
    ScenarioBrief,
    ScriptedInterviewer,
    Spend,
    Turn,
    TurnContext,
    check_reply,
    from_guide,
    phase_prompt,
    scenario_brief,
    score_transcript,
)
from graders.interviewer.scorecard import verified
from graders.llm import LLMConfig
from graders.text import locate_quote
from tests.support.openai_server import OpenAIServer, RecordedRequest, Reply

GUIDE = from_guide(load_library().guide)
SCENARIO = scenario_brief(
    GUIDE,
    scenario_id="guide:ml-serving",
    title="Design an ML model serving platform",
    text="Design a platform that serves ML models (LLMs, vision, tabular) to production traffic.",
    full_brief=True,
)
EMBEDDER = default_embedder()
SCRIPTED = ScriptedInterviewer(EMBEDDER)


def faithful_model(
    guide: GuideBrief = GUIDE, scenario: ScenarioBrief = SCENARIO
) -> Callable[[RecordedRequest], Reply]:
    """A model that answers as the guide's interviewer would (the scripted rules, over HTTP)."""

    def respond(request: RecordedRequest) -> Reply:
        messages = request.messages
        phase = re.search(r"phase ([a-z-]+)", messages[-1]["content"])
        turns = tuple(
            Turn("interviewer" if m["role"] == "assistant" else "candidate", "", 0.0, m["content"])
            for m in messages[1:-1]
        )
        slug = phase.group(1) if phase else "clarify"
        # The model keeps its own notes of what it asked in the phase: replay them as intents.
        ctx = TurnContext(guide, scenario, slug, 0.0, tuple(_with_intents(turns, slug)))
        text, _ = SCRIPTED.respond(ctx)
        return Reply.chat(text, prompt_tokens=400, completion_tokens=40)

    return respond


def _with_intents(turns: tuple[Turn, ...], slug: str) -> list[Turn]:
    out = []
    for t in turns:
        intent = ""
        if t.speaker == "interviewer":
            lowered = t.text.lower()
            intent = (
                "pushback"
                if lowered.startswith("i'm not convinced")
                else "trap"
                if lowered.startswith("let me push")
                else "deliverables"
                if lowered.startswith("before we move on")
                else "red-flag-jump"
                if "red flag" in lowered
                else "clarify-answer"
                if lowered.startswith("good question")
                else ""
            )
        out.append(Turn(t.speaker, slug, 0.0, t.text, intent))
    return out


@pytest.fixture(params=["scripted", "llm"])
def engine(request: pytest.FixtureRequest, openai_server: OpenAIServer) -> GuardedInterviewer:
    if request.param == "scripted":
        return GuardedInterviewer(SCRIPTED, EMBEDDER)
    openai_server.respond_with(faithful_model())
    config = LLMConfig(base_url=openai_server.base_url, model="scripted-model", timeout_s=5)
    return GuardedInterviewer(SCRIPTED, EMBEDDER, llm=LLMInterviewer(config))


def ctx(phase: str, *lines: tuple[str, str, str]) -> TurnContext:
    """Build a context from (speaker, text, intent) lines."""
    turns = tuple(
        Turn("interviewer" if s == "i" else "candidate", phase, 1.0, text, intent)
        for s, text, intent in lines
    )
    return TurnContext(GUIDE, SCENARIO, phase, 1.0, turns)


OPENING = ("i", phase_prompt(GUIDE, SCENARIO, "clarify"), "opening")


# --- the same behaviour from both engines -----------------------------------------------------


async def test_a_clarifying_question_is_answered_from_the_scenario(
    engine: GuardedInterviewer,
) -> None:
    reply = await engine.reply(ctx("clarify", OPENING, ("c", "What's the latency target?", "")))
    assert "<100ms" in reply.text and "outside" not in reply.text
    assert not reply.note  # the model's reply (if any) passed the checks


async def test_a_question_outside_the_facts_is_said_to_be_outside(
    engine: GuardedInterviewer,
) -> None:
    said = ("c", "How many engineers will maintain this system?", "")
    reply = await engine.reply(ctx("clarify", OPENING, said))
    assert "outside what this scenario specifies" in reply.text
    assert not re.search(r"\d{2,}", reply.text)  # no invented figure


async def test_designing_before_asking_is_called_a_red_flag(engine: GuardedInterviewer) -> None:
    said = ("c", "I would use Kubernetes with a load balancer and a cache in front.", "")
    reply = await engine.reply(ctx("clarify", OPENING, said))
    assert "red flag" in reply.text and "clarifying" in reply.text


async def test_the_deep_dive_probes_a_trap_question(engine: GuardedInterviewer) -> None:
    said = (
        "c",
        "I'll go deep on dynamic batching: utilisation goes from ten to eighty percent and "
        "continuous batching keeps the GPUs busy while requests of different lengths finish.",
        "",
    )
    reply = await engine.reply(ctx("deep-dive", ("i", "Deep dive begins.", "phase-prompt"), said))
    assert any(t.question in reply.text for t in GUIDE.traps)


async def test_a_weak_answer_gets_one_push_back_per_phase(engine: GuardedInterviewer) -> None:
    first = await engine.reply(
        ctx(
            "high-level-design", ("i", "Walk me through it.", "phase-prompt"), ("c", "Servers.", "")
        )
    )
    assert "not convinced" in first.text
    again = await engine.reply(
        ctx(
            "high-level-design",
            ("i", "Walk me through it.", "phase-prompt"),
            ("c", "Servers.", ""),
            ("i", first.text, "pushback"),
            ("c", "More servers.", ""),
        )
    )
    assert "not convinced" not in again.text


def test_phase_prompts_ask_for_the_phase_s_deliverables() -> None:
    for phase in GUIDE.phases:
        text = phase_prompt(GUIDE, SCENARIO, phase.slug)
        assert all(d in text for d in phase.deliverables), phase.slug
    assert "Gateway" not in phase_prompt(GUIDE, SCENARIO, "clarify")  # the design stays hidden


# --- the guard: checks, caps, failures ----------------------------------------------------------


def llm_engine(server: OpenAIServer, **kwargs: object) -> GuardedInterviewer:
    config = LLMConfig(base_url=server.base_url, model="scripted-model", timeout_s=5)
    return GuardedInterviewer(SCRIPTED, EMBEDDER, llm=LLMInterviewer(config), **kwargs)  # type: ignore[arg-type]


async def test_an_invented_requirement_is_caught_and_replaced(openai_server: OpenAIServer) -> None:
    openai_server.script(
        Reply.chat("Good question. You must support 50,000 QPS with a p99 under 20 ms.")
    )
    reply = await llm_engine(openai_server).reply(
        ctx("clarify", OPENING, ("c", "What peak QPS should we expect?", ""))
    )
    assert reply.note.startswith("replaced: invents a requirement")
    assert "50,000" not in reply.text and "100K" in reply.text  # the scenario's own answer
    assert reply.engine == "scripted" and reply.tokens == 180  # the model's tokens still count


async def test_a_given_away_design_is_caught_and_replaced(openai_server: OpenAIServer) -> None:
    openai_server.script(
        Reply.chat(
            "The answer is to put a gateway in front, an A/B router with consistent hashing, "
            "and dynamic batching on the GPU workers."
        )
    )
    said = ("c", "I am not sure where to start with the architecture, any hints?", "")
    reply = await llm_engine(openai_server).reply(ctx("high-level-design", said))
    assert reply.note.startswith("replaced: gives")
    assert "consistent hashing" not in reply.text


def test_the_checks_pass_a_good_question_and_refuse_a_long_one() -> None:
    good = check_reply(
        "Good. Which metric tells you the batching window is too long?",
        ctx("deep-dive", ("c", "I batch requests on the GPU for throughput.", "")),
        EMBEDDER,
    )
    assert good.ok, good.reason
    long = check_reply("Why? " * 200, ctx("deep-dive"), EMBEDDER)
    assert not long.ok and "too long" in long.reason


async def test_an_outage_falls_back_once_and_stays_scripted(openai_server: OpenAIServer) -> None:
    openai_server.respond_with(Reply.server_error(503))
    engine = llm_engine(openai_server)
    first = await engine.reply(ctx("clarify", OPENING, ("c", "What's the latency target?", "")))
    assert first.note == FALLBACK_NOTE and "not available" in first.text
    assert "<100ms" in first.text  # the interview goes on, answered from the guide
    later = ctx(
        "clarify",
        OPENING,
        ("c", "What's the latency target?", ""),
        ("i", first.text, first.intent),
        ("c", "What peak QPS?", ""),
    )
    later = TurnContext(
        later.guide,
        later.scenario,
        later.phase,
        later.minute,
        (
            *later.transcript[:2],
            Turn("interviewer", "clarify", 1, first.text, first.intent, "scripted", first.note),
            later.transcript[3],
        ),
    )
    calls = len(openai_server.chat_requests)
    second = await engine.reply(later)
    assert len(openai_server.chat_requests) == calls  # the model is not asked again
    assert "not available" not in second.text and not second.note


async def test_over_the_caps_the_mock_continues_scripted(openai_server: OpenAIServer) -> None:
    openai_server.respond_with(faithful_model())
    asked = ctx("clarify", OPENING, ("c", "What's the latency target?", ""))
    capped = await llm_engine(openai_server).reply(
        asked, Spend("cohort-1", used=29_900, cap=30_000)
    )
    assert capped.note == FALLBACK_NOTE and "token allowance" in capped.text
    spent = llm_engine(openai_server, budget=MemoryTokenBudget(100))
    budget = await spent.reply(asked, Spend("cohort-1", used=0, cap=30_000))
    assert budget.note == FALLBACK_NOTE and "daily budget" in budget.text
    assert openai_server.chat_requests == []  # neither was sent


async def test_the_system_prompt_carries_the_guide_the_facts_and_the_conversation(
    openai_server: OpenAIServer,
) -> None:
    openai_server.respond_with(faithful_model())
    await llm_engine(openai_server).reply(
        ctx("clarify", OPENING, ("c", "What's the latency target?", ""))
    )
    [request] = openai_server.chat_requests
    system = request.messages[0]["content"]
    assert "Real-time: <100ms" in system and "Never propose a design" in system
    assert request.messages[-2]["content"] == "What's the latency target?"


# --- the scorecard ---------------------------------------------------------------------------


STRONG = (
    "What type of models are we serving: LLMs, vision or tabular?",
    "What's the latency requirement for the user-facing path?",
    "Each component exists for a reason: the gateway handles auth and rate limits and the "
    "router splits traffic for A/B tests by hashing the user id.",
    "I'll go deep on dynamic batching: GPU utilisation goes from 10% to 80%, and continuous "
    "batching with PagedAttention saves KV cache memory.",
    "For monitoring we track data drift and concept drift on the inputs and predictions.",
    "We degrade gracefully: fall back to a smaller distilled model, then to cached responses.",
)
WEAK = (
    "I would use Kubernetes and some servers behind a load balancer.",
    "Just add more servers.",
    "It should be fine.",
)


def transcript(lines: tuple[str, ...], *, phase: str = "clarify") -> list[Turn]:
    return [Turn("candidate", phase if i == 0 else "deep-dive", i, t) for i, t in enumerate(lines)]


def test_ratings_quote_the_candidate_and_weak_answers_rate_lower() -> None:
    order = {"no hire": 0, "hire": 1, "strong hire": 2}
    strong = score_transcript(GUIDE, transcript(STRONG), EMBEDDER, bank=[("E.1", "Batching?")])
    weak = score_transcript(
        GUIDE,
        [*transcript(WEAK), Turn("interviewer", "clarify", 0, "Hold on", "red-flag-jump")],
        EMBEDDER,
    )
    said = "\n".join(STRONG)
    for rating in strong.aspects:
        assert rating.rating in order
        assert all(locate_quote(said, q) is not None for q in rating.evidence)
    assert sum(order[a.rating] for a in strong.aspects) > sum(order[a.rating] for a in weak.aspects)
    assert {a.aspect for a in strong.aspects} == {a.aspect for a in GUIDE.aspects}
    assert "Doesn't ask clarifying questions" in weak.red_flags
    assert "Doesn't ask clarifying questions" not in strong.red_flags
    assert any("drift" in g for g in strong.green_flags)
    assert len(weak.practise) == 2 and len(strong.practise) == 2
    assert strong.practise[0].question_id == "E.1"


def test_a_made_up_quote_is_never_kept() -> None:
    said = "\n".join(STRONG)
    assert verified(["We shard by user id across 40 regions."], said) == ()
    assert verified([STRONG[0].lower()], said) == (STRONG[0].lower(),)


def test_generic_follow_ups_are_on_topic_and_small_talk_is_not() -> None:
    said = ctx("high-level-design", ("c", "I'd put an API gateway in front of GPU pools.", ""))
    for follow_up in (
        "How would you know it failed, and what would the user see?",
        "Good. Which number would tell you that part is working?",
    ):
        assert check_reply(follow_up, said, EMBEDDER).ok, follow_up
    assert check_reply("Do you like football?", said, EMBEDDER).reason == "off topic"
