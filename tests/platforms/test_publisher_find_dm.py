"""Keyed DMs on every face: sent with their key, found again by it, never shown twice.

Slack against the local mock Slack Web API (the key travels in message metadata and a new
process reads it back from the conversation's history); Discord against autospec'd discord.py
objects (the key becomes the enforced nonce; the message cache and this process remember it);
the console in memory.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import create_autospec

import discord
import pytest_asyncio

from bot.messages import Message, SentMessage
from bot.platforms.console import ConsolePublisher
from bot.platforms.discord_app import DiscordPublisher, nonce_for
from bot.platforms.slack_app import POST_EVENT_TYPE
from tests.platforms.test_slack_publisher import _huge, make_publisher
from tests.support.slack_api_server import MockSlackApi


@pytest_asyncio.fixture
async def api() -> AsyncIterator[MockSlackApi]:
    """A running mock Slack Web API."""
    async with MockSlackApi() as server:
        yield server


async def test_slack_keyed_dm_carries_its_key_and_a_new_process_finds_it(
    api: MockSlackApi,
) -> None:
    first = make_publisher(api)
    try:
        assert await first.find_dm("U0BOB", "drill:result:7:0") is None
        sent = await first.send_dm(
            "U0BOB", Message(text="passed"), idempotency_key="drill:result:7:0"
        )
        await first.send_dm("U0BOB", Message(text="an unkeyed note"))
    finally:
        await first.aclose()
    [keyed, plain] = api.posted("DU0BOB")
    assert keyed["metadata"]["event_type"] == POST_EVENT_TYPE
    assert keyed["metadata"]["event_payload"]["key"] == "drill:result:7:0"
    assert "metadata" not in plain
    fresh = make_publisher(api)
    try:
        assert await fresh.find_dm("U0BOB", "drill:result:7:0") == sent
        assert await fresh.find_dm("U0BOB", "drill:result:7:1") is None
        assert await fresh.find_dm("U0CAT", "drill:result:7:0") is None  # another member
    finally:
        await fresh.aclose()


async def test_slack_long_keyed_dm_cut_short_resumes_with_only_the_missing_chunks(
    api: MockSlackApi,
) -> None:
    message = _huge()
    api.fail(method="chat.postMessage", status=500, nth=2)
    first = make_publisher(api)
    try:
        try:
            await first.send_dm("U0BOB", message, idempotency_key="k")
        except Exception:
            pass
    finally:
        await first.aclose()
    fresh = make_publisher(api)
    try:
        assert await fresh.find_dm("U0BOB", "k") is None  # only part of it went out
        sent = await fresh.send_dm("U0BOB", message, idempotency_key="k")
        assert await fresh.find_dm("U0BOB", "k") == sent
    finally:
        await fresh.aclose()
    chunks = [m["metadata"]["event_payload"]["chunk"] for m in api.posted("DU0BOB")]
    total = api.posted("DU0BOB")[0]["metadata"]["event_payload"]["chunks"]
    assert sorted(chunks) == list(range(total))


def discord_client() -> Any:
    fake = create_autospec(discord.Client, instance=True)
    fake.cached_messages = []
    fake.user = create_autospec(discord.ClientUser, instance=True)
    fake.user.id = 999
    return fake


def dm_message(message_id: int, user_id: int, nonce: str | None, author: Any) -> Any:
    """An autospec'd message in the DM channel with one member."""
    message = create_autospec(discord.Message, instance=True)
    message.id = message_id
    message.channel = create_autospec(discord.DMChannel, instance=True)
    message.channel.id = 31
    message.channel.recipient = create_autospec(discord.User, instance=True)
    message.channel.recipient.id = user_id
    message.author = author
    message.nonce = nonce
    return message


async def test_discord_keyed_dm_goes_with_its_nonce_and_is_sent_once() -> None:
    client = discord_client()
    user = create_autospec(discord.User, instance=True)
    user.send.side_effect = lambda *a, **kw: dm_message(4001, 4242, kw.get("nonce"), client.user)
    client.get_user.return_value = user
    publisher = DiscordPublisher(client)
    sent = await publisher.send_dm("4242", Message(text="passed"), idempotency_key="k")
    assert user.send.await_args.kwargs["nonce"] == nonce_for("k")
    again = await publisher.send_dm("4242", Message(text="passed"), idempotency_key="k")
    assert again == sent and user.send.await_count == 1
    assert await publisher.find_dm("4242", "k") == sent
    assert await publisher.find_dm("4243", "k") is None
    await publisher.send_dm("4242", Message(text="plain"))
    assert "nonce" not in user.send.await_args.kwargs


async def test_discord_find_dm_reads_the_message_cache_after_a_restart() -> None:
    client = discord_client()
    other = create_autospec(discord.User, instance=True)
    other.id = 5
    client.cached_messages = [
        dm_message(4001, 4242, nonce_for("k"), client.user),
        dm_message(4002, 4242, nonce_for("k"), other),  # someone else's message
    ]
    publisher = DiscordPublisher(client)  # a new process: only the cache knows
    assert await publisher.find_dm("4242", "k") == SentMessage("4001", "31")
    assert await publisher.find_dm("4242", "other") is None
    assert await publisher.find_dm("7", "k") is None


async def test_console_keyed_dm_is_shown_once() -> None:
    out = io.StringIO()
    console = ConsolePublisher(out)
    sent = await console.send_dm("bob", Message(text="passed"), idempotency_key="k")
    assert await console.send_dm("bob", Message(text="passed"), idempotency_key="k") == sent
    assert await console.find_dm("bob", "k") == sent
    assert await console.find_dm("cat", "k") is None
    assert out.getvalue().count("[DM to bob]") == 1
