"""The Discord Publisher against autospec'd discord.py objects: nonces, threads, error mapping."""

from __future__ import annotations

import itertools
from typing import Any
from unittest.mock import create_autospec

import aiohttp
import discord
import pytest
from discord.http import handle_message_parameters

from bot.messages import Channel, Message, MessageField, PublishError, SentMessage
from bot.platforms.discord_app import NONCE_LIMIT, DiscordPublisher, nonce_for
from bot.platforms.discord_render import EMBED_TOTAL_LIMIT, render_message

CHANNEL = Channel("discord", "111", "222")
_ids = itertools.count(5000)


def http_error(cls: type[discord.HTTPException], status: int, **headers: str) -> Exception:
    """Build the exception discord.py raises for an HTTP status."""
    response = create_autospec(aiohttp.ClientResponse, instance=True)
    response.status = status
    response.reason = "reason"
    response.headers = headers
    return cls(response, {"message": f"status {status}", "code": 0})


def sent_message(channel_id: int = 222) -> Any:
    """An autospec'd message as `send` returns it."""
    message = create_autospec(discord.Message, instance=True)
    message.id = next(_ids)
    message.channel = create_autospec(discord.TextChannel, instance=True)
    message.channel.id = channel_id
    return message


@pytest.fixture
def channel() -> Any:
    text_channel = create_autospec(discord.TextChannel, instance=True)
    text_channel.id = 222
    text_channel.send.side_effect = lambda *a, **kw: sent_message()
    partial = create_autospec(discord.PartialMessage, instance=True)
    text_channel.get_partial_message.return_value = partial
    return text_channel


@pytest.fixture
def client(channel: Any) -> Any:
    fake = create_autospec(discord.Client, instance=True)
    fake.get_channel.side_effect = lambda cid: channel if cid == 222 else None
    fake.cached_messages = []
    fake.user = create_autospec(discord.ClientUser, instance=True)
    fake.user.id = 999
    return fake


def test_nonce_is_short_stable_and_distinct() -> None:
    key = "studybot:12345:133:q:D133-04"
    assert len(nonce_for(key)) <= NONCE_LIMIT
    assert nonce_for(key) == nonce_for(key)
    assert nonce_for(key) != nonce_for(key, 1)
    assert nonce_for(key) != nonce_for("studybot:12345:133:q:D133-05")


async def test_post_sends_with_nonce_and_discord_enforces_it(client: Any, channel: Any) -> None:
    publisher = DiscordPublisher(client)
    key = "studybot:1:4:plan"
    sent = await publisher.post(CHANNEL, Message(header="Day 4", text="plan"), idempotency_key=key)
    channel.send.assert_awaited_once()
    kwargs = channel.send.await_args.kwargs
    assert kwargs["nonce"] == nonce_for(key)
    assert kwargs["embeds"][0].title == "Day 4"
    # discord.py turns a nonce into enforce_nonce=True on the wire; check the body it builds.
    wire = handle_message_parameters(
        content=kwargs["content"], embeds=kwargs["embeds"], nonce=kwargs["nonce"]
    )
    assert wire.payload is not None
    assert wire.payload["enforce_nonce"] is True
    assert wire.payload["nonce"] == nonce_for(key)
    assert sent.channel_id == "222" and sent.thread_id is None


async def test_repeated_key_posts_once(client: Any, channel: Any) -> None:
    publisher = DiscordPublisher(client)
    first = await publisher.post(CHANNEL, Message(text="hello"), idempotency_key="k1")
    again = await publisher.post(CHANNEL, Message(text="hello"), idempotency_key="k1")
    assert first == again
    assert channel.send.await_count == 1
    assert await publisher.find_posted(CHANNEL, "k1") == first
    assert await publisher.find_posted(CHANNEL, "k2") is None


async def test_find_posted_uses_the_message_cache(client: Any) -> None:
    cached = sent_message()
    cached.author = client.user
    cached.nonce = nonce_for("studybot:3:9:plan")
    cached.thread = None
    client.cached_messages = [cached]
    publisher = DiscordPublisher(client)
    found = await publisher.find_posted(CHANNEL, "studybot:3:9:plan")
    assert found == SentMessage(str(cached.id), "222", None)
    assert (
        await publisher.find_posted(Channel("discord", "111", "333"), "studybot:3:9:plan") is None
    )


async def test_thread_starter_opens_a_named_thread(client: Any, channel: Any) -> None:
    publisher = DiscordPublisher(client)
    question = Message(
        header="D4-01 · Attention",
        text="Why scale by sqrt(d)?",
        thread_starter=True,
        thread_title="D4-01 Why scale by sqrt(d)?",
    )
    sent = await publisher.post(CHANNEL, question, idempotency_key="studybot:1:4:q:D4-01")
    partial = channel.get_partial_message.return_value
    channel.get_partial_message.assert_called_once_with(int(sent.message_id))
    partial.create_thread.assert_awaited_once_with(
        name="D4-01 Why scale by sqrt(d)?", auto_archive_duration=10080
    )
    assert sent.thread_id == sent.message_id


async def test_thread_failure_retry_does_not_resend_the_message(client: Any, channel: Any) -> None:
    partial = channel.get_partial_message.return_value
    partial.create_thread.side_effect = [http_error(discord.DiscordServerError, 503), None]
    publisher = DiscordPublisher(client)
    question = Message(text="Q?", header="Q", thread_starter=True)
    with pytest.raises(PublishError) as failure:
        await publisher.post(CHANNEL, question, idempotency_key="studybot:1:1:q:D1-01")
    assert failure.value.transient
    sent = await publisher.post(CHANNEL, question, idempotency_key="studybot:1:1:q:D1-01")
    assert channel.send.await_count == 1
    assert partial.create_thread.await_count == 2
    assert sent.thread_id == sent.message_id


async def test_thread_already_created_counts_as_done(client: Any, channel: Any) -> None:
    exists = http_error(discord.HTTPException, 400)
    exists.code = 160004
    channel.get_partial_message.return_value.create_thread.side_effect = exists
    publisher = DiscordPublisher(client)
    sent = await publisher.post(
        CHANNEL, Message(text="Q?", thread_starter=True), idempotency_key="studybot:1:1:q:x"
    )
    assert sent.thread_id == sent.message_id


async def test_long_message_sends_every_part_with_its_own_nonce(client: Any, channel: Any) -> None:
    fields = tuple(MessageField(f"Track {i}", "• item line\n" * 80) for i in range(12))
    message = Message(header="Day 9", text="theme", fields=fields)
    parts = render_message(message)
    assert len(parts) > 1
    key = "studybot:1:9:plan"
    sent = await DiscordPublisher(client).post(CHANNEL, message, idempotency_key=key)
    nonces = [call.kwargs["nonce"] for call in channel.send.await_args_list]
    assert nonces == [nonce_for(key, i) for i in range(len(parts))]
    first = channel.send.await_args_list[0]
    assert sum(len(e) for e in first.kwargs["embeds"]) <= EMBED_TOTAL_LIMIT
    assert sent.message_id  # the first message stands for the part


async def test_rate_limit_maps_to_transient_with_retry_after(client: Any, channel: Any) -> None:
    channel.send.side_effect = http_error(discord.HTTPException, 429, **{"Retry-After": "2.5"})
    with pytest.raises(PublishError) as failure:
        await DiscordPublisher(client).post(CHANNEL, Message(text="x"), idempotency_key="k")
    assert failure.value.transient
    assert failure.value.retry_after == 2.5


async def test_long_rate_limit_maps_to_transient(client: Any, channel: Any) -> None:
    channel.send.side_effect = discord.RateLimited(42.0)
    with pytest.raises(PublishError) as failure:
        await DiscordPublisher(client).post(CHANNEL, Message(text="x"), idempotency_key="k")
    assert failure.value.transient and failure.value.retry_after == 42.0


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (lambda: http_error(discord.DiscordServerError, 502), True),
        (lambda: TimeoutError("read timed out"), True),
        (lambda: aiohttp.ClientConnectionError("reset"), True),
        (lambda: http_error(discord.Forbidden, 403), False),
        (lambda: http_error(discord.NotFound, 404), False),
        (lambda: http_error(discord.HTTPException, 400), False),
    ],
)
async def test_errors_map_to_transient_or_permanent(
    client: Any, channel: Any, error: Any, transient: bool
) -> None:
    channel.send.side_effect = error()
    with pytest.raises(PublishError) as failure:
        await DiscordPublisher(client).post(CHANNEL, Message(text="x"), idempotency_key="k")
    assert failure.value.transient is transient
    assert failure.value.retry_after is None
    assert "222" in str(failure.value)


async def test_forbidden_says_what_is_wrong(client: Any, channel: Any) -> None:
    channel.send.side_effect = http_error(discord.Forbidden, 403)
    with pytest.raises(PublishError, match="permission"):
        await DiscordPublisher(client).post(CHANNEL, Message(text="x"), idempotency_key="k")


async def test_reply_in_thread_and_edit(client: Any, channel: Any) -> None:
    thread = create_autospec(discord.Thread, instance=True)
    thread.send.side_effect = lambda *a, **kw: sent_message()
    client.get_channel.side_effect = lambda cid: {222: channel, 777: thread}.get(cid)
    publisher = DiscordPublisher(client)
    sent = await publisher.reply_in_thread(CHANNEL, "777", Message(text="Graded: 4/5"))
    assert thread.send.await_args.kwargs["content"] == "Graded: 4/5"
    assert "nonce" not in thread.send.await_args.kwargs
    assert sent.thread_id == "777"
    await publisher.edit(SentMessage("123", "222"), Message(header="Edited", text="new"))
    channel.get_partial_message.assert_called_with(123)
    edit = channel.get_partial_message.return_value.edit
    assert edit.await_args.kwargs["embeds"][0].title == "Edited"


async def test_withdraw_deletes_every_message_of_a_post(client: Any, channel: Any) -> None:
    publisher = DiscordPublisher(client)
    fields = tuple(MessageField(f"Track {i}", "• item line\n" * 80) for i in range(12))
    sent = await publisher.post(
        CHANNEL, Message(header="Day 9", fields=fields, key="plan"), idempotency_key="k-long"
    )
    assert len(sent.parts) == channel.send.await_count > 1
    partial = channel.get_partial_message.return_value
    partial.delete.side_effect = [None] * (len(sent.parts) - 1) + [
        http_error(discord.NotFound, 404)
    ]
    await publisher.withdraw(sent)  # one already gone is no error
    assert [c.args[0] for c in channel.get_partial_message.call_args_list] == [
        int(p) for p in sent.parts
    ]
    assert partial.delete.await_count == len(sent.parts)
    # withdrawn, it is no longer this process's copy of the key
    assert await publisher.find_posted(CHANNEL, "k-long") is None


async def test_send_dm_fetches_an_unknown_user(client: Any) -> None:
    user = create_autospec(discord.User, instance=True)
    user.send.side_effect = lambda *a, **kw: sent_message(channel_id=31)
    client.get_user.return_value = None
    client.fetch_user.return_value = user
    sent = await DiscordPublisher(client).send_dm("4242", Message(text="You paused?"))
    client.fetch_user.assert_awaited_once_with(4242)
    assert sent.channel_id == "31"


async def test_closed_dms_are_a_permanent_error(client: Any) -> None:
    user = create_autospec(discord.User, instance=True)
    user.send.side_effect = http_error(discord.Forbidden, 403)
    client.get_user.return_value = user
    with pytest.raises(PublishError) as failure:
        await DiscordPublisher(client).send_dm("4242", Message(text="hi"))
    assert not failure.value.transient
