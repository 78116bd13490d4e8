"""Real bot subprocesses and a slow mock Slack, for the tests that pause or kill a process.

`SlowSlack` stores each post at once and answers it `answer_delay_s` later, as a slow Slack
does, so a test can stop a process (SIGSTOP) while Slack holds a post it has not answered.
`BotProcess` runs one `python -m <module>` bot that prints READY, then one JSON line per pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.slack_api_server import MockSlackApi

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 60.0  # a safety net for a broken run, never the thing a test waits for


class SlowSlack(MockSlackApi):
    """The mock Slack Web API: stores each post at once and answers it `answer_delay_s` later.

    `on_stored` is called with each stored post's parameters (`stored` counts them so far) and
    `on_history` with each history read's, while the caller still waits for the answer.
    """

    answer_delay_s = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        self.stored = 0
        self.on_stored: Callable[[dict[str, Any]], None] | None = None
        self.on_history: Callable[[dict[str, Any]], None] | None = None
        self.timeline: list[str] = []
        self.changed = asyncio.Event()

    async def _m_chat_postMessage(self, call: Any, params: dict[str, Any]) -> Any:
        answer = await super()._m_chat_postMessage(call, params)
        if call.error is None:
            self.stored += 1
            key = (params.get("metadata") or {}).get("event_payload", {}).get("key")
            channel = params.get("channel")
            self.timeline.append(f"{time.monotonic():.3f} stored #{self.stored} {channel} {key}")
            self.changed.set()
            if self.on_stored is not None:
                self.on_stored(params)
        await asyncio.sleep(self.answer_delay_s)
        return answer

    async def _m_conversations_history(self, call: Any, params: dict[str, Any]) -> Any:
        answer = await super()._m_conversations_history(call, params)
        if self.on_history is not None:
            self.on_history(params)
        return answer

    def keys(self) -> Counter[str]:
        """Count the posts of every channel per idempotency key."""
        return Counter(
            m["metadata"]["event_payload"]["key"]
            for channel in self.messages.values()
            for m in channel
            if m.get("metadata", {}).get("event_type") == "studybot_post"
        )

    def ts_by_key(self) -> dict[str, str]:
        """Return the ts of each key's (first chunk) post."""
        return {
            m["metadata"]["event_payload"]["key"]: m["ts"]
            for channel in self.messages.values()
            for m in channel
            if m.get("metadata", {}).get("event_type") == "studybot_post"
            and m["metadata"]["event_payload"].get("chunk", 0) == 0
        }

    def dm_keys(self) -> Counter[str]:
        """Count every DM per idempotency key (an unkeyed DM counts as 'unkeyed')."""
        return Counter(
            (m.get("metadata") or {}).get("event_payload", {}).get("key", "unkeyed")
            for channel, messages in self.messages.items()
            if channel.startswith("D")
            for m in messages
        )

    async def wait_until(self, done: Callable[[], bool], within_s: float = WAIT_S) -> None:
        """Wait for what Slack stored to satisfy `done`."""
        async with asyncio.timeout(within_s):
            while not done():
                self.changed.clear()
                await self.changed.wait()


def serving_args(name: str, *, db: dict[str, str], slack_url: str, **opts: float) -> list[str]:
    """Return the command line of a test bot serving `db`'s schema through the mock Slack."""
    args = ["--db-url", db["url"], "--schema", db["schema"], "--slack-url", slack_url]
    args += ["--process-id", name]
    for key, value in opts.items():
        args += [f"--{key}", str(value)]
    return args


class BotProcess:
    """One bot subprocess and the pass reports it printed."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str, log: Path) -> None:
        self.proc = proc
        self.name = name
        self.log = log
        self.lines: list[dict[str, Any]] = []
        self.ready = asyncio.Event()
        self.changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, module: str, name: str, args: list[str], tmp: Path) -> BotProcess:
        """Start `python -m module args` and wait until it says it is serving."""
        log = tmp / f"{name}.log"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            *args,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=log.open("w"),
        )
        process = cls(proc, name, log)
        async with asyncio.timeout(WAIT_S):
            await process.ready.wait()
        return process

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode().strip()
            if line == "READY":
                self.ready.set()
            elif line.startswith("{"):
                self.lines.append(json.loads(line))
            self.changed.set()

    async def wait_for(self, done: Callable[[list[dict[str, Any]]], bool]) -> None:
        """Wait until the printed pass reports satisfy `done`."""
        async with asyncio.timeout(WAIT_S):
            while not done(self.lines):
                self.changed.clear()
                await self.changed.wait()

    def signal(self, sig: int) -> None:
        """Send a signal to the process."""
        os.kill(self.proc.pid, sig)

    async def close(self) -> None:
        """Stop the process (killing it if it does not stop) and its reader."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGCONT)
                self.proc.terminate()
            try:
                async with asyncio.timeout(10):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    def stderr(self) -> str:
        """Return what the process logged."""
        return self.log.read_text()
