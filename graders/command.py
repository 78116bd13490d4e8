"""What `studybot grade --question ID --answer-file F [--grader ...] --json` needs from graders."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from pathlib import Path

from graders.models import MAX_ANSWER_CHARS, Grade, GraderError, RubricQuestion

# Bytes read at most from an answer file: the character limit in four-byte UTF-8, plus a margin,
# so a huge file is refused without being read into memory.
_MAX_FILE_BYTES = MAX_ANSWER_CHARS * 4 + 1024


def resolve_question(question_id: str, questions: Mapping[str, RubricQuestion]) -> RubricQuestion:
    """Return the question with this id, or raise GraderError naming the closest ids."""
    wanted = question_id.strip()
    question = questions.get(wanted) or questions.get(wanted.upper())
    if question is not None:
        return question
    close = difflib.get_close_matches(wanted.upper(), list(questions), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise GraderError(
        f"Unknown question id {wanted!r}. Ids look like E3-082 (question bank) or D121-03 "
        f"(a day's question).{hint}"
    )


def read_answer_file(path: Path) -> str:
    """Read an answer from a UTF-8 text file, refusing what cannot be an answer."""
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise GraderError(f"No answer file at {path}.") from None
    except IsADirectoryError:
        raise GraderError(f"{path} is a directory, not an answer file.") from None
    except OSError as exc:
        raise GraderError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if len(data) > _MAX_FILE_BYTES:
        raise GraderError(
            f"{path} is too large for an answer; the limit is {MAX_ANSWER_CHARS:,} characters."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise GraderError(f"{path} is not UTF-8 text; save the answer as UTF-8.") from None
    return text


def grade_json(grade: Grade) -> str:
    """Render a grade as the JSON document `studybot grade --json` prints."""
    return json.dumps(grade.model_dump(mode="json"), ensure_ascii=False, indent=2)
