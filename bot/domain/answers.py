"""What state a written answer is in, as stored."""

from __future__ import annotations

from enum import StrEnum


class AnswerStatus(StrEnum):
    """The states an answer row takes; the values are what the database holds."""

    PENDING = "pending"  # stored, waiting for a grade (retried after a crash or a failure)
    GRADED = "graded"  # graded against a rubric; its grade row exists
    SELF_CHECK = "self_check"  # the question has no rubric: the member checks it themselves

    @property
    def is_final(self) -> bool:
        """Tell whether nothing more will happen to an answer in this state."""
        return self is not AnswerStatus.PENDING
