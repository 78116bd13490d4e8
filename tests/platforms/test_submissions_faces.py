"""/submit on Slack (the code pasted into a form) and Discord (an attachment)."""

from __future__ import annotations

from typing import Any
from unittest.mock import create_autospec

import discord
import pytest

from bot.commands import COMMANDS
from bot.errors import StudyBotError
from bot.platforms.discord_app import _command_callback
from bot.services.context import Actor
from bot.store.models import Submission
from gpu_runner.client import JobStatus
from gpu_runner.protocol import RunJob, RunResult
from tests.support.slack_harness import ADMIN, CHANNEL, MEMBER, TEAM, SlackHarness
from tests.support.slack_harness import text_of as _text_of

KV = (
    "def kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, bytes_per_element=2, batch=1):\n"
    "    return 2 * n_layers * n_kv_heads * head_dim * seq_len * bytes_per_element * batch\n"
)


class PassingRunner:
    """The runner port: every job passes at once (the judge has its own suite)."""

    def __init__(self) -> None:
        self.jobs: list[RunJob] = []

    async def dispatch(self, job: RunJob) -> str:
        self.jobs.append(job)
        return job.job_id

    async def status(self, task_id: str) -> JobStatus:
        return JobStatus(task_id, "unknown")

    async def wait(self, task_id: str, **_: Any) -> RunResult:
        job = next(j for j in self.jobs if j.job_id == task_id)
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


async def test_slack_asks_for_the_code_in_a_form_and_judges_what_was_pasted(
    slack: SlackHarness,
) -> None:
    bot = slack.bot
    runner = PassingRunner()
    bot.__dict__["runner"] = runner  # the runner is built on first use; this one stands in
    await bot.cohorts.setup(
        Actor("slack", TEAM, CHANNEL, ADMIN, "admin", is_workspace_admin=True),
        start_date="2026-12-01",
    )
    await bot.cohorts.join(Actor("slack", TEAM, CHANNEL, MEMBER, "member"))
    await slack.slash("submit kv_cache_bytes")
    [opened] = await slack.api.wait_for(lambda: slack.api.calls_to("views.open"))
    view = opened.params["view"]
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    code_field = next(b for b in inputs if b["block_id"] == "file")
    assert code_field["element"]["multiline"] is True
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
    response = await slack.interaction(submission)
    assert response.status == 200
    shown = await slack.api.wait_for(
        lambda: [e for e in slack.api.ephemerals if "passed" in _text_of(e)]
    )
    assert "Submission #1 (kv_cache_bytes): passed" in _text_of(shown[0])
    assert [job.source for job in runner.jobs] == [KV]
    async with bot.sessions() as session:
        row = await session.get(Submission, 1)
    assert row is not None and row.status == "done" and row.reply_to["platform"] == "slack"


class RecordingClient:
    """Stands in for the Discord client: records what a command callback hands on."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, dict[str, Any]]] = []

    async def run_command(self, interaction: Any, path: str, args: dict[str, Any]) -> None:
        self.ran.append((path, args))


def _attachment(data: bytes) -> Any:
    attachment = create_autospec(discord.Attachment, instance=True, spec_set=True)
    attachment.size = len(data)
    attachment.read.return_value = data
    return attachment


async def test_discord_hands_an_attachments_bytes_to_submit_and_refuses_a_big_one_unread() -> None:
    client = RecordingClient()
    callback = _command_callback(client, COMMANDS["submit"])  # type: ignore[arg-type]
    interaction = create_autospec(discord.Interaction, instance=True)
    await callback(interaction, drill="kv_cache_bytes", file=_attachment(KV.encode()), device=None)
    assert client.ran == [("submit", {"drill": "kv_cache_bytes", "file": KV.encode()})]
    big = _attachment(b"#" * 70_000)
    with pytest.raises(StudyBotError, match="at most 64 KB"):
        await callback(interaction, drill="kv_cache_bytes", file=big, device=None)
    big.read.assert_not_called()
