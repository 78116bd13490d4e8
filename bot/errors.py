"""The one error family whose message a user may see, and the apology for everything else.

Services raise a `StudyBotError` subclass for anything a member or an operator may read. Errors
of the packages below the bot (content lookups, grader set-up, drill ids) are wrapped into one
of these where they cross into the bot, by type, never by name.
"""

from __future__ import annotations

import importlib
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("studybot")


class StudyBotError(Exception):
    """An error whose message is safe to show to a member as it is."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class NotFound(StudyBotError):
    """What was asked for does not exist: a question, a day, a drill, a cohort, an answer."""


class NotAllowed(StudyBotError):
    """The member may not do this here (not an admin, not a member)."""


class InvalidInput(StudyBotError):
    """A value the member typed is malformed or out of range; the message says the format."""


class Conflict(StudyBotError):
    """The request collides with what already exists (a channel that already has a cohort)."""


class Unavailable(StudyBotError):
    """A part the request needs is down or not configured (database, grader, platform)."""


# Errors of the packages below the bot whose messages are written for members, and what each
# means here. Looked up lazily: this module sits below everything and some packages are extras.
_FOREIGN: tuple[tuple[str, str, type[StudyBotError]], ...] = (
    ("content.errors", "ContentError", NotFound),
    ("graders.models", "GraderError", Unavailable),
    ("gpu_runner.drills", "UnknownDrillError", NotFound),
)


def as_studybot_error(exc: BaseException) -> StudyBotError | None:
    """Return the member-safe form of an error from a package below the bot, else None."""
    if isinstance(exc, StudyBotError):
        return exc
    for module_name, class_name, wrapper in _FOREIGN:
        try:
            foreign = getattr(importlib.import_module(module_name), class_name)
        except ImportError:  # that extra is not installed, so its errors cannot occur
            continue
        if isinstance(exc, foreign):
            return wrapper(str(exc))
    return None


@contextmanager
def translated_errors() -> Iterator[None]:
    """Re-raise content, grader and drill errors as the StudyBotError they mean."""
    try:
        yield
    except StudyBotError:
        raise
    except Exception as exc:
        wrapped = as_studybot_error(exc)
        if wrapped is None:
            raise
        raise wrapped from exc


def user_message_for(exc: BaseException, *, context: str = "") -> str:
    """Return the text a member sees for an exception; log unexpected ones with an error id."""
    safe = as_studybot_error(exc)
    if safe is not None:
        return str(safe)
    error_id = secrets.token_hex(4)
    log.error("unexpected error %s %s", error_id, context, exc_info=exc)
    return f"Sorry, something went wrong on our side (error id {error_id}). It has been logged."
