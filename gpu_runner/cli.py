"""`studybot drill ...`: list the drills, print a starter file, judge a file in the sandbox.

Exit status of `judge`: 0 when the submission passed, 2 for any other verdict, 1 for a request
the judge cannot serve (unknown drill, unreadable file, no sandbox on this machine).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gpu_runner.protocol import RunResult

app = typer.Typer(
    help="Code drills: list them, print a starter file, judge a file in the sandbox.",
    no_args_is_help=True,
    add_completion=False,
)

_VERDICT_STYLE = {
    "passed": "bold green",
    "wrong": "bold red",
    "error": "bold red",
    "timeout": "bold yellow",
    "rejected": "bold magenta",
}


def _fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"error: {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


@app.command("list")
def list_drills(
    as_json: bool = typer.Option(False, "--json", help="Print the drills as JSON."),
) -> None:
    """List the drills: id, entry point, signature (and the questions answered in prose)."""
    from gpu_runner.drills import DRILLS, PROSE_QUESTIONS

    if as_json:
        typer.echo(json.dumps([d.summary() for d in DRILLS.values()], indent=2))
        return
    table = Table("id", "kind", "signature", box=None)
    for drill in DRILLS.values():
        table.add_row(drill.id, drill.kind, escape(drill.signature))
    console = Console()
    console.print(table)
    for number, what in PROSE_QUESTIONS.items():
        console.print(
            f"E12-{number} ({what}) is answered in prose, graded against its sketch points."
        )


@app.command("template")
def template(drill_id: str = typer.Argument(..., help="The drill's id (see `list`).")) -> None:
    """Print the starter file of a drill (redirect it into a .py file)."""
    from gpu_runner.drills import UnknownDrillError, get_drill

    try:
        drill = get_drill(drill_id)
    except UnknownDrillError as exc:
        raise _fail(str(exc)) from None
    typer.echo(drill.template, nl=False)


@app.command("judge")
def judge_file(
    drill_id: str = typer.Argument(..., help="The drill's id (see `list`)."),
    file: Path = typer.Argument(..., help="The Python file to judge."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    timing: bool = typer.Option(True, "--timing/--no-timing", help="Time a passing file."),
    processes: int = typer.Option(3, min=1, max=20, help="Fresh processes to time in."),
    bench: str | None = typer.Option(None, help="Bench case to time (default: the first)."),
    unsafe_no_sandbox: bool = typer.Option(
        False,
        "--unsafe-no-sandbox",
        help="Run without the sandbox: development only, never for others' code.",
    ),
) -> None:
    """Judge FILE against a drill in the sandbox: correctness, then timing beside the reference."""
    from gpu_runner.drills import UnknownDrillError
    from gpu_runner.judge import JudgeError, JudgeOptions, SandboxUnavailableError, judge

    try:
        source = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fail(f"no such file: {file}") from None
    except UnicodeDecodeError:
        raise _fail(f"{file} is not UTF-8 text") from None
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}") from None
    options = JudgeOptions(
        device=device,
        timing=timing,
        processes=processes,
        bench_case=bench,
        unsafe_no_sandbox=unsafe_no_sandbox,
    )
    err = Console(stderr=True)
    began = time.monotonic()
    try:
        with err.status("judging ...") as status:
            result = judge(
                drill_id,
                source,
                options=options,
                progress=lambda msg: status.update(
                    f"[dim]{time.monotonic() - began:4.1f} s[/] {escape(msg)}"
                ),
            )
    except (UnknownDrillError, JudgeError, SandboxUnavailableError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        render(result, Console())
    raise typer.Exit(0 if result.passed else 2)


def render(result: RunResult, console: Console) -> None:
    """Print a result for a person at a terminal."""
    style = _VERDICT_STYLE.get(result.verdict, "bold")
    console.print(f"[{style}]{result.verdict.upper()}[/] {escape(result.drill)}")
    console.print(escape(result.message), highlight=False)
    t = result.timing
    if t is not None:
        table = Table("", "submission", "reference", box=None, title=escape(t.device))
        from gpu_runner.harness import format_seconds

        ref = t.reference
        for name, mine, theirs in (
            ("median", t.median, ref.median),
            ("mean", t.mean, ref.mean),
            ("± stderr", t.stderr, ref.stderr),
            ("best", t.best, ref.best),
            ("worst", t.worst, ref.worst),
        ):
            table.add_row(name, format_seconds(mine), format_seconds(theirs))
        table.add_row("spread (IQR/median)", f"{t.spread:.1%}", f"{ref.spread:.1%}")
        table.add_row("runs", str(t.runs), str(ref.runs))
        console.print(table)
        console.print(f"speed-up {t.speedup:.2f}x: {escape(t.note)}", highlight=False)
    if result.output:
        console.print("[dim]output:[/]")
        console.print(result.output, highlight=False, markup=False)
    console.print(f"[dim]sandbox: {escape(result.sandbox)}[/]")


def main() -> None:
    """Run the drill command line."""
    app()


if __name__ == "__main__":
    main()
