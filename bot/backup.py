"""`studybot backup FILE` and `studybot restore FILE`: the whole database, consistently.

SQLite is copied through its online backup API, so a backup taken while the bot runs is a
consistent snapshot (WAL included). PostgreSQL goes through `pg_dump --format=custom` and
`pg_restore --clean --single-transaction`; the password travels in PGPASSWORD, never on a
command line another user could read in `ps`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.errors import InvalidInput, Unavailable
from bot.settings import mask_secrets

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"


@dataclass(frozen=True)
class BackupReport:
    """What was backed up or restored, for one line of output."""

    backend: str
    file: Path
    size_bytes: int


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise InvalidInput("An in-memory SQLite database cannot be backed up.")
    return Path(database)


def _pg_command(url: str) -> tuple[list[str], dict[str, str]]:
    """Return the libpq connection arguments and environment (the password in PGPASSWORD)."""
    parsed = make_url(url)
    args = ["--dbname", parsed.database or "postgres"]
    if parsed.host:
        args += ["--host", parsed.host]
    if parsed.port:
        args += ["--port", str(parsed.port)]
    if parsed.username:
        args += ["--username", parsed.username]
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    env["PGCONNECT_TIMEOUT"] = env.get("PGCONNECT_TIMEOUT", "10")
    return args, env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise Unavailable(
            f"{name} is not installed, so PostgreSQL cannot be backed up or restored here.",
            hint="Install the PostgreSQL client tools (apt-get install postgresql-client).",
        )
    return path


def _run(argv: list[str], env: dict[str, str], url: str) -> None:
    result = subprocess.run(argv, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        detail = " ".join(result.stderr.split())[-400:] or f"exit status {result.returncode}"
        raise Unavailable(
            mask_secrets(f"{Path(argv[0]).name} failed on {url}: {detail}"),
            hint="Check STUDYBOT_DB_URL.",
        )


def backup(url: str, file: Path) -> BackupReport:
    """Write a consistent copy of the database at `url` to `file`."""
    file.parent.mkdir(parents=True, exist_ok=True)
    partial = file.with_name(file.name + ".partial")
    if url.startswith("sqlite"):
        source = _sqlite_path(url)
        if not source.exists():
            raise InvalidInput(f"There is no SQLite database at {source} to back up.")
        partial.unlink(missing_ok=True)
        with sqlite3.connect(source) as src, sqlite3.connect(partial) as dst:
            src.backup(dst)
        dst.close()
        src.close()
        backend = "sqlite"
    else:
        args, env = _pg_command(url)
        _run(
            [_tool("pg_dump"), "--format=custom", "--no-owner", *args, "--file", str(partial)],
            env,
            url,
        )
        backend = "postgresql"
    partial.replace(file)  # a backup interrupted half-way never replaces a good one
    return BackupReport(backend, file, file.stat().st_size)


def _kind(file: Path) -> str:
    if not file.is_file():
        raise InvalidInput(f"There is no backup file at {file}.")
    with file.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_MAGIC):
        return "postgresql"
    raise InvalidInput(
        f"{file} is not a StudyBot backup (neither SQLite nor pg_dump custom format)."
    )


def restore(url: str, file: Path) -> BackupReport:
    """Replace the database at `url` with the backup in `file` (stop the bot first)."""
    kind = _kind(file)
    target = "sqlite" if url.startswith("sqlite") else "postgresql"
    if kind != target:
        raise InvalidInput(
            f"{file} is a {kind} backup but STUDYBOT_DB_URL names a {target} database.",
            hint="Restore into the same kind of database it was taken from.",
        )
    if kind == "sqlite":
        path = _sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(file) as src, sqlite3.connect(path) as dst:
            src.backup(dst)  # page by page into the live file: its WAL stays consistent
        dst.close()
        src.close()
    else:
        args, env = _pg_command(url)
        _run(
            [
                _tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                *args,
                str(file),
            ],
            env,
            url,
        )
    return BackupReport(kind, file, file.stat().st_size)
