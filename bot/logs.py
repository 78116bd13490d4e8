"""Log set-up: JSON lines for machines, readable lines for people, secrets masked in both.

Every line of a request carries its request id, cohort id and member (context variables set by
the command dispatcher with `log_context`), so an operator can follow one request across the
bot's modules, and tasks spawned for the request inherit them. Lines go to stderr as JSON when
stderr is not a terminal (a container, a service manager, a pipe), readable when it is.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import uuid
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings import Settings

FIELDS = ("request_id", "cohort_id", "member", "platform", "command")
_CONTEXT: dict[str, ContextVar[Any]] = {name: ContextVar(name, default=None) for name in FIELDS}


def new_request_id() -> str:
    """Return a short random id for one request."""
    return uuid.uuid4().hex[:12]


def bind(**fields: Any) -> None:
    """Set log context fields for the rest of the current task (and tasks it starts)."""
    for name, value in fields.items():
        _CONTEXT[name].set(value)


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Set log context fields for the duration of a block, then restore what was there."""
    tokens = [(_CONTEXT[name], _CONTEXT[name].set(value)) for name, value in fields.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current_context() -> dict[str, Any]:
    """Return the log context fields set now (only those with a value)."""
    return {name: var.get() for name, var in _CONTEXT.items() if var.get() is not None}


class ContextFilter(logging.Filter):
    """Copy the request's context fields onto every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Attach the fields; never drop a record."""
        for name, var in _CONTEXT.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
        return True


class MaskingFormatter(logging.Formatter):
    """Format log lines with every configured secret and URL password masked, tracebacks too."""

    def __init__(self, fmt: str, *, settings: Settings | None) -> None:
        super().__init__(fmt)
        self._settings = settings

    def mask(self, text: str) -> str:
        """Mask the secrets in a text."""
        from bot.settings import mask_secrets

        return mask_secrets(text, self._settings)

    def format(self, record: logging.LogRecord) -> str:
        """Format the record, then mask it."""
        return self.mask(super().format(record))


class ReadableFormatter(MaskingFormatter):
    """One line for a person: time, level, logger, the request's context, the message."""

    def __init__(self, *, settings: Settings | None) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s", settings=settings
        )

    def format(self, record: logging.LogRecord) -> str:
        """Format with the context fields in brackets when there are any."""
        parts = [f"{n}={getattr(record, n)}" for n in FIELDS if getattr(record, n, None)]
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return super().format(record)


class JsonFormatter(MaskingFormatter):
    """One JSON object a line: time, level, logger, message, context fields, traceback."""

    def __init__(self, *, settings: Settings | None) -> None:
        super().__init__("%(message)s", settings=settings)

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as one masked JSON line."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": self.mask(record.getMessage()),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exc"] = self.mask(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exc"] = self.mask(record.exc_text)
        return self.mask(json.dumps(entry, ensure_ascii=False, default=str))


def configure_logging(
    settings: Settings,
    *,
    log_file: Path | None = None,
    filters: Iterable[logging.Filter] = (),
    json_lines: bool | None = None,
) -> logging.Handler:
    """Log to stderr (JSON unless a terminal) or to a file (JSON lines); return the handler."""
    handler: logging.Handler
    if log_file is None:
        handler = logging.StreamHandler(sys.stderr)
        is_tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
    else:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
        is_tty = False
    use_json = (not is_tty) if json_lines is None else json_lines
    handler.setFormatter(
        JsonFormatter(settings=settings) if use_json else ReadableFormatter(settings=settings)
    )
    handler.addFilter(ContextFilter())
    for extra in filters:
        handler.addFilter(extra)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    if settings.log_level != "DEBUG":
        # The migration check logs its plugin set-up at INFO and APScheduler every job it adds
        # or runs (each tick): noise for an operator. Their failures still log as errors.
        for noisy in ("alembic", "apscheduler"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler


@contextlib.asynccontextmanager
async def request_scope(bot: Any, actor: Any, command: str) -> Any:
    """Tag every log line of one chat request with its id, member, platform and cohort."""
    import time

    log = logging.getLogger("studybot.requests")
    with log_context(
        request_id=new_request_id(),
        member=actor.user_id,
        platform=actor.platform,
        command=command,
        cohort_id=await _cohort_id(bot, actor),
    ):
        started = time.perf_counter()
        try:
            yield
        except Exception as exc:
            log.info("/%s refused: %s", command, type(exc).__name__)
            raise
        log.info("/%s answered in %.0f ms", command, (time.perf_counter() - started) * 1000)


async def _cohort_id(bot: Any, actor: Any) -> int | None:
    """Return the id of the cohort in the actor's channel, or None (never fails a request)."""
    try:
        from bot.store.cohorts import find_cohort_in

        async with bot.sessions() as session:
            cohort = await find_cohort_in(session, channel=actor.channel)
        return None if cohort is None else cohort.id
    except Exception:
        return None
