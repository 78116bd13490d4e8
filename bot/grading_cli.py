"""`studybot grade`: grade one answer from a file, or many from a JSONL file, as the bot would.

One answer: `--question ID --answer-file F [--json]` prints the Grade (indented JSON with --json).
Many answers: `--answers-file F.jsonl --json` reads one `{"question": "E3-082", "answer": "..."}`
object per line and prints one compact grade per line, in the same order, with the same fields;
a line that cannot be graded prints `{"error": "line N: ..."}` and the rest go on. The grader
and its model are built once for the whole file.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from bot.errors import user_message_for

if TYPE_CHECKING:
    from content.library import Library
    from graders import Grader, RubricQuestion


def fail(message: str) -> typer.Exit:
    """Print one error line for the operator and return the exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def rubric_question(library: Library, question_id: str) -> RubricQuestion:
    """Return the question as the grader needs it, or raise GraderError when it has no points."""
    from bot.services.answers import normalise_question_id
    from graders import GraderError, RubricQuestion

    qid = normalise_question_id(question_id)
    found = library.find_question(qid)
    rubric = tuple(library.rubric_for(qid))
    if not rubric:
        raise GraderError(
            f"{qid} has no rubric to grade against (it gets a self-check list in chat)"
        )
    return RubricQuestion(
        id=qid,
        text=str(getattr(found, "text", "")),
        rubric=rubric,
        kind=str(getattr(found, "kind", "concept") or "concept"),
        from_sketch=library.rubric_origin(qid) == "sketch",
    )


def build_configured_grader(kind: str) -> Grader:
    """Build the grader `--grader` names from the configured settings (LLM when configured)."""
    from bot.settings import get_settings
    from graders import LLMConfig, build_grader

    settings = get_settings()
    llm = None
    if kind != "offline" and settings.llm_configured:
        kwargs: dict[str, object] = {
            "base_url": settings.llm.base_url or "https://api.openai.com/v1",
            "model": settings.grader.model,
            "timeout_s": settings.grader.timeout_s,
            "deadline_s": settings.grader.deadline_s,
            "response_format": settings.grader.response_format,
        }
        if settings.llm.api_key:
            kwargs["api_key"] = settings.llm.api_key
        llm = LLMConfig(**kwargs)
    return build_grader(kind, llm=llm)  # type: ignore[arg-type]


def grade_command(
    question_id: str | None,
    answer_file: str | None,
    grader: str,
    as_json: bool,
    answers_file: str | None = None,
) -> None:
    """Grade one answer (`answer_file`) or every line of `answers_file` and print the grades."""
    from bot.settings import SettingsError

    if grader not in ("offline", "llm", "cascade"):
        raise fail(f"--grader {grader!r} is not one of offline, llm, cascade")
    if answers_file is not None:
        if question_id is not None or answer_file is not None:
            raise fail("use either --answers-file or --question with --answer-file, not both")
        try:
            batch_command(answers_file, grader, as_json)
        except SettingsError as exc:
            raise fail(str(exc)) from None
        return
    if question_id is None or answer_file is None:
        raise fail("give --question and --answer-file, or --answers-file for many answers")
    single_command(question_id, answer_file, grader, as_json)


def single_command(question_id: str, answer_file: str, grader: str, as_json: bool) -> None:
    """Grade the answer in `answer_file` against the question's rubric and print it."""
    from bot.platforms.console import render_text
    from bot.services.answers import clean_answer, render_grade
    from bot.settings import SettingsError
    from content import load_library
    from graders import GradingDelayed

    try:
        text = sys.stdin.read() if answer_file == "-" else Path(answer_file).read_text("utf-8")
    except OSError as exc:
        raise fail(f"cannot read {answer_file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise fail(f"{answer_file} is not UTF-8 text") from None
    try:
        question = rubric_question(load_library(), question_id)
        result = asyncio.run(build_configured_grader(grader).grade(question, clean_answer(text)))
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
        typer.echo(render_text(render_grade(question.id, result, best=None, notices=[])))


def _lines(path: str) -> Iterator[str]:
    if path == "-":
        yield from sys.stdin
        return
    try:
        with open(path, encoding="utf-8") as handle:
            yield from handle
    except FileNotFoundError:
        raise fail(f"no answers file at {path}") from None
    except IsADirectoryError:
        raise fail(f"{path} is a directory, not an answers file") from None
    except UnicodeDecodeError:
        raise fail(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None


class AnswerLineError(ValueError):
    """A line of an answers file that is not a question id and an answer."""


def parse_answer_line(line: str) -> tuple[str, str]:
    """Return the question id and answer of one JSONL line, or raise AnswerLineError saying why."""
    try:
        item: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        raise AnswerLineError(f"not a JSON object ({exc.msg})") from None
    if not isinstance(item, dict):
        raise AnswerLineError('not a JSON object like {"question": "E3-082", "answer": "..."}')
    question, answer = item.get("question"), item.get("answer")
    if not isinstance(question, str) or not question.strip():
        raise AnswerLineError('"question" must be a question id such as "E3-082"')
    if not isinstance(answer, str):
        raise AnswerLineError('"answer" must be the answer text')
    return question, answer


def batch_command(answers_file: str, grader_kind: str, as_json: bool) -> None:
    """Grade every line of a JSONL answers file with one grader and print one result per line."""
    from bot.platforms.console import render_text
    from bot.services.answers import render_grade
    from content import load_library
    from graders import Grade

    library = load_library()
    grader = build_configured_grader(grader_kind)

    def emit(output: dict[str, Any]) -> None:
        if as_json:
            typer.echo(json.dumps(output, ensure_ascii=False, separators=(",", ":")))
        elif "error" in output:
            typer.echo(f"error: {output['error']}\n")
        else:
            grade = Grade.model_validate(output)
            typer.echo(render_text(render_grade(grade.question_id, grade, best=None, notices=[])))
            typer.echo("")

    asyncio.run(grade_lines(_lines(answers_file), library, grader, emit))


async def grade_lines(
    lines: Iterable[str],
    library: Library,
    grader: Grader,
    emit: Callable[[dict[str, Any]], None],
) -> int:
    """Grade each non-blank line in order, emitting a grade or an error for each; return errors."""
    from bot.services.answers import clean_answer

    errors = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            question_id, answer = parse_answer_line(line)
            question = rubric_question(library, question_id)
            grade = await grader.grade(question, clean_answer(answer))
        except typer.Exit:
            raise
        except AnswerLineError as exc:
            errors += 1
            emit({"error": f"line {number}: {exc}"})
        except Exception as exc:  # one bad line must not stop the others
            errors += 1
            emit({"error": f"line {number}: {user_message_for(exc)}"})
        else:
            emit(grade.model_dump(mode="json"))
    return errors
