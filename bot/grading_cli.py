"""`studybot grade`: grade one answer from a file, as the bot would, and print the Grade."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import typer

from bot.errors import user_message_for


def grade_command(question_id: str, answer_file: str, grader: str, as_json: bool) -> None:
    """Grade the answer in `answer_file` against the question's rubric and print it."""
    from bot.platforms.console import render_text
    from bot.services.answers import clean_answer, normalise_question_id, render_grade
    from bot.settings import SettingsError, get_settings
    from content import load_library
    from graders import GradingDelayed, LLMConfig, RubricQuestion, build_grader

    def fail(message: str) -> typer.Exit:
        typer.echo(f"error: {message}", err=True)
        return typer.Exit(1)

    if grader not in ("offline", "llm", "cascade"):
        raise fail(f"--grader {grader!r} is not one of offline, llm, cascade")
    try:
        text = sys.stdin.read() if answer_file == "-" else Path(answer_file).read_text("utf-8")
    except OSError as exc:
        raise fail(f"cannot read {answer_file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise fail(f"{answer_file} is not UTF-8 text") from None
    try:
        settings = get_settings()
        qid = normalise_question_id(question_id)
        library = load_library()
        found = library.find_question(qid)
        rubric = tuple(library.rubric_for(qid))
        if not rubric:
            raise fail(f"{qid} has no rubric to grade against (it gets a self-check list in chat)")
        question = RubricQuestion(
            id=qid,
            text=str(getattr(found, "text", "")),
            rubric=rubric,
            kind=str(getattr(found, "kind", "concept") or "concept"),
        )
        llm = None
        if grader != "offline" and settings.llm_configured:
            kwargs: dict[str, object] = {
                "base_url": settings.llm.base_url or "https://api.openai.com/v1",
                "model": settings.grader.model,
                "timeout_s": settings.grader.timeout_s,
                "deadline_s": settings.grader.deadline_s,
                "response_format": settings.grader.response_format,
            }
            if settings.llm.api_key:
                kwargs["api_key"] = settings.llm.api_key
            llm = LLMConfig(**kwargs)  # type: ignore[arg-type]
        result = asyncio.run(build_grader(grader, llm=llm).grade(question, clean_answer(text)))  # type: ignore[arg-type]
    except typer.Exit:
        raise
    except GradingDelayed:
        raise fail(
            "the LLM did not answer within STUDYBOT_GRADER_DEADLINE_S; try again later, or "
            "use --grader offline"
        ) from None
    except SettingsError as exc:
        raise fail(str(exc)) from None
    except Exception as exc:  # one clear line for the user
        raise fail(user_message_for(exc)) from None
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        typer.echo(render_text(render_grade(qid, result, best=None, notices=[])))
