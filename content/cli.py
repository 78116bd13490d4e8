"""`studybot content ...` and `studybot question ID`: import, check, count and show content."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from content.errors import ContentError
from content.importer import import_files
from content.library import ResolvedDayQuestion, clear_library_cache, load_library
from content.paths import DEFAULT_DATA_DIR
from content.schema import DIFFICULTY_NAMES, Question
from content.stats import content_stats
from content.validation import Issue, check_data_dir

app = typer.Typer(
    help="The curriculum as data: import seed text, check and count the YAML library.",
    no_args_is_help=True,
    add_completion=False,
)


def _fail(message: str) -> NoReturn:
    # One line for the user; `content check` is where every problem is listed.
    typer.echo(message.splitlines()[0] if message else "error", err=True)
    raise typer.Exit(code=1)


def _shown(issue: Issue) -> str:
    try:
        path = str(Path(issue.path).resolve().relative_to(Path.cwd()))
    except ValueError:
        path = issue.path
    return f"{path}:{issue.line}: {issue.message}"


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Content directory (default: the shipped content/data)."),
]


@app.command("import")
def import_command(
    files: Annotated[list[Path], typer.Argument(help="Seed text files, in any of the formats.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write here instead of content/data.")
    ] = None,
) -> None:
    """Import seed files (question bank, day plans, interview guide) into YAML."""
    out_dir = out or DEFAULT_DATA_DIR
    try:
        report = import_files(files, out_dir)
    except ContentError as exc:
        _fail(f"error: {exc}")
    clear_library_cache()
    for name, kind in report.formats.items():
        typer.echo(f"{name}: {kind.replace('_', ' ')}")
    typer.echo(
        f"wrote {len(report.written)} file(s) under {out_dir}: {report.questions} questions, "
        f"{report.rubric_points} rubric points, {report.day_questions} day questions "
        f"({report.linked_day_questions} linked to the bank)"
    )


@app.command("check")
def check_command(data_dir: DataDirOption = None) -> None:
    """Validate the content; print each problem as file:line and exit 1 if there is any."""
    issues = check_data_dir((data_dir or DEFAULT_DATA_DIR).resolve())
    for issue in issues:
        typer.echo(_shown(issue), err=True)
    if issues:
        _fail(f"{len(issues)} problem(s) found")
    typer.echo("content ok")


@app.command("stats")
def stats_command(
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Count questions, rubric points and days."""
    try:
        stats = content_stats(load_library(data_dir))
    except ContentError as exc:
        _fail(f"error: {exc}")
    if as_json:
        _print_json(stats)
        return
    typer.echo(
        f"{stats['questions']} questions ({stats['questions_with_rubric']} with a rubric, "
        f"{stats['rubric_points']} rubric points)"
    )
    for section in stats["sections"]:
        typer.echo(f"  {section['section']:<5} {section['questions']:>4}  {section['title']}")
    typer.echo("  difficulty: " + ", ".join(f"{k} {v}" for k, v in stats["difficulty"].items()))
    typer.echo("  kind: " + ", ".join(f"{k} {v}" for k, v in stats["kind"].items()))
    typer.echo(
        f"{stats['days_total']} days: {stats['days_authored']} authored, "
        f"{stats['days_generated']} generated, {stats['days_overridden']} overridden"
    )


def render_question_text(found: Question | ResolvedDayQuestion) -> str:
    """Return a question and its rubric as plain text for the console."""
    lines: list[str] = []
    if isinstance(found, Question):
        tags = (
            f"[{found.difficulty}] {DIFFICULTY_NAMES[found.difficulty]} · {'/'.join(found.roles)}"
        )
        lines.append(f"{found.id}  {tags} · {found.kind}")
        lines.append(found.text)
        details = []
        if found.chapters:
            details.append("Chapter " + ", ".join(str(c) for c in found.chapters))
        if found.tests:
            details.append(f"tests: {found.tests}")
        if found.companies:
            details.append(", ".join(found.companies))
        if details:
            lines.append(" · ".join(details))
        if found.rubric:
            lines.append("Rubric:")
            lines.extend(f"  - {point}" for point in found.rubric)
        if found.solution_sketch:
            lines.append(f"Solution sketch: {found.solution_sketch}")
        return "\n".join(lines)
    lines.append(f"{found.id}  day {found.day}")
    lines.append(found.text)
    if found.bank is not None:
        confidence = (
            f", confidence {found.match_confidence:.2f}"
            if found.match_confidence is not None
            else ""
        )
        lines.append(f"Graded against {found.bank.id} ({found.match_method}{confidence}):")
        lines.append(f"  {found.bank.text}")
        if found.rubric:
            lines.append("Rubric:")
            lines.extend(f"  - {point}" for point in found.rubric)
        else:
            lines.append("That question has no rubric points.")
    else:
        lines.append("No rubric: no bank question matches this one closely enough.")
    return "\n".join(lines)


def question_command(qid: str, json: bool = False, data_dir: Path | None = None) -> None:
    """Show a bank question (E3-082) or a day question (D097-04) with its rubric."""
    try:
        found = load_library(data_dir).find_question(qid)
    except ContentError as exc:
        _fail(f"error: {exc}")
    if json:
        data = found.model_dump(mode="json")
        data["type"] = "bank" if isinstance(found, Question) else "day"
        _print_json(data)
    else:
        typer.echo(render_question_text(found))


@app.command("question")
def question_subcommand(
    qid: Annotated[str, typer.Argument(help="A bank id like E3-082 or a day id like D097-04.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Show a question with its rubric."""
    question_command(qid, as_json, data_dir)


def main() -> None:  # pragma: no cover - convenience entry point
    """Run the content commands on their own (`python -m content.cli`)."""
    app(prog_name="studybot content")


if __name__ == "__main__":  # pragma: no cover
    main()
