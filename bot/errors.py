"""The one error type whose message a user may see, and the apology for everything else."""

from __future__ import annotations

import logging
import secrets

log = logging.getLogger("studybot")


class StudyBotError(Exception):
    """An error whose message is safe to show to a member as it is."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


def user_message_for(exc: BaseException, *, context: str = "") -> str:
    """Return the text a member sees for an exception; log unexpected ones with an error id."""
    if isinstance(exc, StudyBotError):
        return str(exc)
    # Content and grader errors are ValueError subclasses whose messages are written for users.
    if type(exc).__name__ in {"ContentError", "GraderError", "UnknownDrillError"}:
        return str(exc)
    error_id = secrets.token_hex(4)
    log.error("unexpected error %s %s", error_id, context, exc_info=exc)
    return f"Sorry, something went wrong on our side (error id {error_id}). It has been logged."
