"""Time how fast `studybot run` (Slack, HTTP mode) acknowledges signed requests under load.

Starts the mock Slack Web API and `studybot run` as their own processes (a fresh SQLite
database, or PostgreSQL with --pg), then sends signed slash commands and Events API thread
replies from 20 concurrent clients and reports the acknowledgement times (p50, p99, max) of
each kind. Slack gives an app 3 seconds; the work a request starts runs after its ack.

    .venv/bin/python bench/slack_ack.py --requests 400 --concurrency 20
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

SECRET = "bench-signing-secret-0123456789ab"
TOKEN = "xoxb-test-token"
TEAM = "T0BENCH01"
CHANNEL = "C0BENCH01"
_ids = itertools.count(1)


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_mock() -> tuple[subprocess.Popen[str], str]:
    """Start the mock Slack Web API in its own process; return it and its base URL."""
    cmd = [sys.executable, "-m", "tests.support.slack_api_server", "--port", "0"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"mock Slack server did not start: {line!r}")
    return proc, line.split(" ", 1)[1]


def signed(body: str, content_type: str) -> dict[str, str]:
    """Return the headers Slack sends with a body."""
    timestamp = str(int(time.time()))
    base = f"v0:{timestamp}:{body}".encode()
    digest = hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
    }


def slash_body(text: str, user: str, response_url: str) -> tuple[str, str]:
    """Return a signed-ready `/study` command body."""
    n = next(_ids)
    form = {
        "team_id": TEAM,
        "channel_id": CHANNEL,
        "user_id": user,
        "user_name": user.lower(),
        "command": "/study",
        "text": text,
        "response_url": response_url,
        "trigger_id": f"{n}.{uuid.uuid4().hex[:8]}",
    }
    return urlencode(form), "application/x-www-form-urlencoded"


def event_body(user: str) -> tuple[str, str]:
    """Return an Events API thread reply (in a thread that is not a question's)."""
    n = next(_ids)
    body = {
        "type": "event_callback",
        "team_id": TEAM,
        "event_id": f"Ev{n:010d}",
        "event_time": int(time.time()),
        "event": {
            "type": "message",
            "channel": CHANNEL,
            "user": user,
            "text": f"an answer {n}",
            "ts": f"1700000{n:03d}.000200",
            "thread_ts": "1700000000.000100",
        },
    }
    return json.dumps(body), "application/json"


async def wait_for_port(port: int, proc: subprocess.Popen[bytes], within: float = 60) -> None:
    """Wait until the bot listens (or fail if it died)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"studybot run exited with {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise SystemExit("studybot run did not start listening")


async def drive(url: str, api_url: str, requests: int, concurrency: int) -> dict[str, list[float]]:
    """Send `requests` of each kind from `concurrency` clients; return ack times in ms."""
    response_url = api_url.replace("/api/", "/respond/bench")
    jobs: list[tuple[str, str, str]] = []
    texts = ["help", "cohort status", "today", "me timezone Europe/Berlin", "answer E1-001"]
    for i in range(requests):
        body, kind = slash_body(texts[i % len(texts)], f"U{i % 50:08d}", response_url)
        jobs.append(("slash command", body, kind))
        body, kind = event_body(f"U{i % 50:08d}")
        jobs.append(("event", body, kind))
    queue: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    times: dict[str, list[float]] = {"slash command": [], "event": []}
    statuses: dict[int, int] = {}

    async def client(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            label, body, kind = queue.get_nowait()
            started = time.perf_counter()
            async with http.post(url, data=body.encode(), headers=signed(body, kind)) as resp:
                await resp.read()
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
            times[label].append((time.perf_counter() - started) * 1000)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
    if set(statuses) != {200}:
        raise SystemExit(f"not every request was acknowledged: {statuses}")
    return times


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


async def admin_sql(pg_url: str, statement: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE) on a PostgreSQL server."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    """Run the bench; return the figures."""
    from sqlalchemy.engine import make_url

    tmp = tempfile.mkdtemp(prefix="slack-ack-")
    db_url = f"sqlite+aiosqlite:///{tmp}/bench.db"
    private_db: str | None = None
    if args.pg:
        # A database of its own, dropped afterwards: the bench never touches shared schemas.
        private_db = f"slack_ack_{uuid.uuid4().hex[:8]}"
        await admin_sql(args.pg, f'CREATE DATABASE "{private_db}"')
        db_url = make_url(args.pg).set(database=private_db).render_as_string(hide_password=False)
    try:
        return await measure(args, db_url)
    finally:
        if private_db is not None:
            await admin_sql(args.pg, f'DROP DATABASE IF EXISTS "{private_db}" WITH (FORCE)')


async def measure(args: argparse.Namespace, db_url: str) -> dict[str, Any]:
    """Start the mock and the bot on a database, drive them, and return the figures."""
    mock, api_url = start_mock()
    port = free_port()
    env = {
        **os.environ,
        "STUDYBOT_DB_URL": db_url,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_BASE_URL": api_url,
        "SLACK_PORT": str(port),
        "SLACK_APP_TOKEN": "",
        "DISCORD_TOKEN": "",
    }
    bot: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(  # noqa: ASYNC221  (the bench waits for the migration on purpose)
            [sys.executable, "-m", "bot", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        bot = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "bot", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await wait_for_port(port, bot)
        url = f"http://127.0.0.1:{port}/slack/events"
        await drive(url, api_url, 20, args.concurrency)  # warm-up: imports, first queries
        started = time.perf_counter()
        times = await drive(url, api_url, args.requests, args.concurrency)
        wall = time.perf_counter() - started
    finally:
        if bot is not None:
            bot.terminate()
            bot.wait(10)
        mock.terminate()
        mock.wait(10)
    figures: dict[str, Any] = {
        "database": "postgresql" if args.pg else "sqlite",
        "concurrency": args.concurrency,
        "requests_per_kind": args.requests,
        "requests_per_s": round(2 * args.requests / wall, 1),
    }
    for label, values in times.items():
        figures[label] = {
            "p50_ms": round(percentile(values, 50), 1),
            "p99_ms": round(percentile(values, 99), 1),
            "max_ms": round(max(values), 1),
            "mean_ms": round(statistics.fmean(values), 1),
        }
    return figures


def main() -> None:
    """Parse the options, run the bench and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=400, help="requests of each kind")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL instead of a fresh SQLite")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"{figures['requests_per_kind']} signed requests of each kind, "
        f"{figures['concurrency']} at a time, {figures['database']}: "
        f"{figures['requests_per_s']} requests/s"
    )
    for label in ("slash command", "event"):
        f = figures[label]
        print(
            f"  {label:14s} ack p50 {f['p50_ms']:7.1f} ms   p99 {f['p99_ms']:7.1f} ms   "
            f"max {f['max_ms']:7.1f} ms   (Slack's deadline: 3000 ms)"
        )


if __name__ == "__main__":
    main()
