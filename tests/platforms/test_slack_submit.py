"""/submit on Slack: progress edited into one message, and a shared .py file submitted."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import FakeClock
from bot.errors import InvalidInput
from bot.platforms.slack_submit import download_shared_file, submit_request
from bot.services.context import Actor
from gpu_runner.client import JobStatus
from gpu_runner.protocol import RunJob, RunResult
from tests.support.slack_harness import ADMIN, CHANNEL, MEMBER, TEAM, SlackHarness, text_of

KV = (
    "def kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, bytes_per_element=2, batch=1):\n"
    "    return 2 * n_layers * n_kv_heads * head_dim * seq_len * bytes_per_element * batch\n"
)


class ProgressingRunner:
    """The runner port: reports a queue position and progress (time passing), then passes."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.jobs: list[RunJob] = []

    async def dispatch(self, job: RunJob) -> str:
        self.jobs.append(job)
        return job.job_id

    async def status(self, task_id: str) -> JobStatus:
        return JobStatus(task_id, "unknown")

    async def wait(self, task_id: str, *, on_status: Any = None, **_: Any) -> RunResult:
        job = next(j for j in self.jobs if j.job_id == task_id)
        if on_status is not None:
            await on_status(JobStatus(task_id, "queued", position=2))
            await on_status(JobStatus(task_id, "queued", position=1))  # too soon: not shown
            self.clock.advance(5)
            await on_status(JobStatus(task_id, "running", progress="checking case 3/9"))
        return RunResult(
            job_id=task_id,
            drill=job.drill,
            verdict="passed",
            message="passed all 7 cases",
            cases_passed=7,
            cases_total=7,
            sandbox="bwrap",
        )

    async def close(self) -> None:
        pass


class FileHost:
    """Where Slack serves shared files: it wants the bot token, and counts downloads."""

    def __init__(self, token: str, content: bytes) -> None:
        self.token = token
        self.content = content
        self.downloads = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _serve(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.Response(status=403)
        self.downloads += 1
        return web.Response(body=self.content)

    async def __aenter__(self) -> FileHost:
        app = web.Application()
        app.router.add_get("/files/{name}", self._serve)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/files/solution.py"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


async def with_members(slack: SlackHarness) -> ProgressingRunner:
    """Set up the channel's cohort with a member, and stand in for the runner."""
    bot = slack.bot
    runner = ProgressingRunner(bot.clock)  # type: ignore[arg-type]
    bot.__dict__["runner"] = runner  # the runner is built on first use; this one stands in
    await bot.cohorts.setup(
        Actor("slack", TEAM, CHANNEL, ADMIN, "admin", is_workspace_admin=True),
        start_date="2026-12-01",
    )
    await bot.cohorts.join(Actor("slack", TEAM, CHANNEL, MEMBER, "member"))
    return runner


async def test_a_form_submission_shows_its_progress_in_one_dm_edited_in_place(
    slack: SlackHarness,
) -> None:
    runner = await with_members(slack)
    await slack.slash("submit kv_cache_bytes")
    [opened] = await slack.api.wait_for(lambda: slack.api.calls_to("views.open"))
    view = opened.params["view"]
    submission = {
        "type": "view_submission",
        "team": {"id": TEAM},
        "user": {"id": MEMBER, "team_id": TEAM, "name": "member"},
        "api_app_id": "A0STUDY01",
        "trigger_id": "1337.43.abcd",
        "view": {
            **view,
            "id": "V1",
            "state": {"values": {"file": {"value": {"type": "plain_text_input", "value": KV}}}},
        },
    }
    assert (await slack.interaction(submission)).status == 200
    await slack.api.wait_for(lambda: [e for e in slack.api.ephemerals if "passed" in text_of(e)])
    posts = [c for c in slack.api.calls_to("chat.postMessage") if "hourglass" in c.params["text"]]
    edits = slack.api.calls_to("chat.update")
    assert len(posts) == 1 and "queued" in posts[0].params["text"]
    assert len(edits) == 1 and "checking case 3/9" in edits[0].params["text"]
    assert edits[0].params["channel"] == posts[0].params["channel"]
    assert [job.source for job in runner.jobs] == [KV]


async def test_a_shared_file_is_downloaded_with_the_bot_token_and_read_as_a_submit() -> None:
    assert submit_request("submit kv_cache_bytes", [{"id": "F1"}]) == ("kv_cache_bytes", None)
    assert submit_request("/study submit softmax cuda", [{"id": "F1"}]) == ("softmax", "cuda")
    assert submit_request("here is my file", [{"id": "F1"}]) is None
    with pytest.raises(InvalidInput, match="one .py file"):
        submit_request("submit softmax", [{"id": "F1"}, {"id": "F2"}])
    async with FileHost("xoxb-test-token", KV.encode()) as host:
        file = {"id": "F1", "size": len(KV), "url_private_download": host.url}
        assert await download_shared_file(AsyncWebClient(token="xoxb-test-token"), file) == (
            KV.encode()
        )
        with pytest.raises(InvalidInput, match="did not let the bot read"):
            await download_shared_file(AsyncWebClient(token="xoxb-other"), file)
    assert host.downloads == 1


async def test_a_shared_file_with_submit_in_its_message_is_downloaded_and_judged(
    slack: SlackHarness,
) -> None:
    runner = await with_members(slack)
    async with FileHost(slack.api.token, KV.encode()) as host:
        file = {"id": "F1", "name": "kv.py", "size": len(KV), "url_private_download": host.url}
        event = {
            "type": "message",
            "subtype": "file_share",
            "channel": CHANNEL,
            "user": MEMBER,
            "text": "submit kv_cache_bytes",
            "ts": "1700000000.000200",
            "files": [file],
        }
        assert (await slack.event(event)).status == 200
        replies = await slack.api.wait_for(
            lambda: [e for e in slack.api.ephemerals if "passed" in text_of(e)]
        )
    assert host.downloads == 1
    assert [job.source for job in runner.jobs] == [KV]
    assert "Submission #1 (kv_cache_bytes): passed" in text_of(replies[0])
    assert replies[0]["thread_ts"] == "1700000000.000200" and replies[0]["user"] == MEMBER
    [progress] = slack.api.threads["1700000000.000200"]
    assert "hourglass" in progress["text"]


async def test_a_shared_file_over_the_limit_is_refused_before_it_is_downloaded(
    slack: SlackHarness,
) -> None:
    runner = await with_members(slack)
    async with FileHost(slack.api.token, b"x") as host:
        file = {"id": "F2", "name": "big.py", "size": 200_000, "url_private_download": host.url}
        event = {
            "type": "message",
            "subtype": "file_share",
            "channel": CHANNEL,
            "user": MEMBER,
            "text": "submit kv_cache_bytes",
            "ts": "1700000000.000300",
            "files": [file],
        }
        assert (await slack.event(event)).status == 200
        said = await slack.api.wait_for(
            lambda: [e for e in slack.api.ephemerals if "KB" in text_of(e)]
        )
    assert host.downloads == 0 and runner.jobs == []
    assert "64" in text_of(said[0])
