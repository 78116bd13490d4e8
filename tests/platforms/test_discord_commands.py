"""The Discord command tree from the catalogue, its handlers and its error handler."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from unittest.mock import create_autospec

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord import app_commands

from bot import commands as catalogue
from bot.app import StudyBot
from bot.clock import FakeClock
from bot.commands import COMMANDS, Command, Option
from bot.errors import StudyBotError
from bot.messages import Message, Reply
from bot.platforms.discord_app import (
    LongTextModal,
    StudyBotDiscord,
    actor_for,
    default_intents,
    error_reply,
)
from bot.settings import load_settings

NAME = re.compile(r"^[-_\w]{1,32}$")  # \w is \p{L}\p{N}_ for str patterns in Python
OPTION_TYPES = {3: "str", 4: "int", 5: "bool", 11: "attachment"}


# --- fakes at the discord.py boundary ------------------------------------------------------


def fake_interaction(
    *,
    admin: bool = False,
    guild_id: int | None = 4000,
    channel_id: int = 5000,
    user_id: int = 6000,
    in_thread: int | None = None,
) -> Any:
    """An autospec'd interaction whose response remembers that it was used."""
    interaction = create_autospec(discord.Interaction, instance=True)
    response = create_autospec(discord.InteractionResponse, instance=True)
    used = {"done": False}

    def mark(*args: Any, **kwargs: Any) -> None:
        used["done"] = True

    response.is_done.side_effect = lambda: used["done"]
    for name in ("send_message", "defer", "send_modal"):
        getattr(response, name).side_effect = mark
    interaction.response = response
    interaction.followup = create_autospec(discord.Webhook, instance=True)
    interaction.guild_id = guild_id
    interaction.channel_id = in_thread or channel_id
    if in_thread:
        thread = create_autospec(discord.Thread, instance=True)
        thread.id, thread.parent_id = in_thread, channel_id
        interaction.channel = thread
    else:
        channel = create_autospec(discord.TextChannel, instance=True)
        channel.id = channel_id
        interaction.channel = channel
    user = create_autospec(discord.Member, instance=True)
    user.id, user.display_name = user_id, f"member{user_id}"
    interaction.user = user
    interaction.permissions = discord.Permissions(manage_guild=admin)
    interaction.command = None
    return interaction


def response_calls(interaction: Any) -> list[str]:
    """List the response and follow-up calls in the order they happened."""
    calls = []
    for call in interaction.mock_calls:
        name = call[0]
        if name.startswith(("response.send", "response.defer", "followup.send")):
            calls.append(name)
    return calls


def shown_text(call: Any) -> str:
    """Return the text a send call shows: content plus embed text."""
    kwargs = call.kwargs
    parts = [kwargs.get("content") or ""]
    for embed in kwargs.get("embeds") or []:
        parts += [embed.title or "", embed.description or ""]
        parts += [f"{f.name} {f.value}" for f in embed.fields]
    return "\n".join(parts)


@pytest.fixture
def extra_commands() -> Iterator[dict[str, Command]]:
    """Catalogue entries added for one test (a slow one, one with a long text option)."""
    added: dict[str, Command] = {}
    yield added
    for path in added:
        COMMANDS.pop(path, None)


def add_command(registry: dict[str, Command], spec: Command) -> None:
    """Put a command in the catalogue for the duration of a test."""
    assert spec.path not in COMMANDS
    COMMANDS[spec.path] = spec
    registry[spec.path] = spec


@pytest_asyncio.fixture
async def bot(db: Any) -> AsyncIterator[StudyBot]:
    yield StudyBot(
        settings=load_settings(),
        engine=db.engine,
        sessions=db.sessions,
        clock=FakeClock(datetime(2026, 3, 2, 7, 0, tzinfo=UTC)),
    )


@pytest_asyncio.fixture
async def client(bot: StudyBot) -> AsyncIterator[StudyBotDiscord]:
    face = StudyBotDiscord(bot)
    yield face
    await face.close()


def command_of(face: StudyBotDiscord, path: str) -> app_commands.Command[Any, ..., Any]:
    """Find the app command of a catalogue path."""
    first, _, rest = path.partition(" ")
    found = face.tree.get_command(first)
    if rest:
        assert isinstance(found, app_commands.Group)
        found = found.get_command(rest)
    assert isinstance(found, app_commands.Command)
    return found


# --- the tree --------------------------------------------------------------------------------


async def test_tree_serialises_within_discord_limits() -> None:
    face = StudyBotDiscord(None)
    try:
        payloads = [c.to_dict(face.tree) for c in face.tree.get_commands()]
    finally:
        await face.close()
    assert len(payloads) <= 100
    names = [p["name"] for p in payloads]
    assert len(names) == len(set(names))

    def check(node: dict[str, Any], depth: int) -> None:
        assert NAME.match(node["name"]) and node["name"] == node["name"].lower(), node["name"]
        assert 1 <= len(node["description"]) <= 100, node["name"]
        options = node.get("options", [])
        assert len(options) <= 25, node["name"]
        assert len({o["name"] for o in options}) == len(options), node["name"]
        subcommands = [o for o in options if o["type"] in (1, 2)]
        if subcommands:
            assert depth == 0 and len(subcommands) == len(options)
            for sub in subcommands:
                check(sub, depth + 1)
            return
        required = [o.get("required", False) for o in options]
        assert required == sorted(required, reverse=True), f"{node['name']}: required first"
        for option in options:
            assert NAME.match(option["name"]) and option["name"] == option["name"].lower()
            assert 1 <= len(option["description"]) <= 100
            assert option["type"] in OPTION_TYPES

    for payload in payloads:
        check(payload, 0)


async def test_tree_mirrors_the_catalogue() -> None:
    face = StudyBotDiscord(None)
    try:
        for path, spec in COMMANDS.items():
            command = command_of(face, path)
            assert command.qualified_name == path
            params = {p.name: p for p in command.parameters}
            assert set(params) == {o.name for o in spec.options}
            for opt in spec.options:
                assert params[opt.name].required == (opt.required and opt.type != "text")
                expected = {
                    "int": discord.AppCommandOptionType.integer,
                    "bool": discord.AppCommandOptionType.boolean,
                    "file": discord.AppCommandOptionType.attachment,
                }
                assert params[opt.name].type == expected.get(
                    opt.type, discord.AppCommandOptionType.string
                )
        groups = {s.group for s in COMMANDS.values() if s.group}
        assert groups <= {c.name for c in face.tree.get_commands()}
    finally:
        await face.close()


async def test_new_catalogue_command_appears_without_face_changes(
    extra_commands: dict[str, Command],
) -> None:
    async def handler(bot: Any, actor: Any, args: dict[str, Any]) -> Reply:
        return Reply.text("ok")

    add_command(
        extra_commands,
        Command(
            "ask",
            "Ask a quiz question",
            "quiz",
            (Option("role", "interviewer or candidate"), Option("minutes", "length", "int", True)),
            handler=handler,
        ),
    )
    face = StudyBotDiscord(None)
    try:
        group = face.tree.get_command("quiz")
        assert isinstance(group, app_commands.Group)
        assert group.description == "Quiz commands"
        ask = command_of(face, "quiz ask")
        assert [p.name for p in ask.parameters] == ["minutes", "role"]  # required first
    finally:
        await face.close()


def test_intents_are_only_what_is_needed() -> None:
    intents = default_intents()
    enabled = {name for name, on in intents if on}
    assert enabled == {"guilds", "guild_messages", "message_content"}


def test_actor_from_a_thread_belongs_to_the_parent_channel() -> None:
    actor = actor_for(fake_interaction(admin=True, in_thread=7777, channel_id=5000))
    assert actor.channel_id == "5000" and actor.thread_id == "7777"
    assert actor.is_workspace_admin and actor.workspace_id == "4000"
    assert actor.user_id == "6000" and actor.platform == "discord"
    assert not actor_for(fake_interaction()).is_workspace_admin


# --- handlers --------------------------------------------------------------------------------


async def test_help_answers_privately_at_once(client: StudyBotDiscord) -> None:
    interaction = fake_interaction()
    await command_of(client, "help").callback(interaction)  # type: ignore[call-arg]
    assert response_calls(interaction) == ["response.send_message"]
    call = interaction.response.send_message.await_args
    assert call.kwargs["ephemeral"] is True
    assert "/cohort setup" in shown_text(call)
    interaction.response.defer.assert_not_awaited()


async def test_cohort_setup_is_public_and_status_private(client: StudyBotDiscord) -> None:
    setup = fake_interaction(admin=True)
    await command_of(client, "cohort setup").callback(  # type: ignore[call-arg]
        setup, timezone="Europe/Berlin", post_time="08:30", name="Evening ML"
    )
    call = setup.response.send_message.await_args
    assert call.kwargs["ephemeral"] is False
    assert "Evening ML" in shown_text(call) and "created" in shown_text(call)

    status = fake_interaction()
    await command_of(client, "cohort status").callback(status)  # type: ignore[call-arg]
    call = status.response.send_message.await_args
    assert call.kwargs["ephemeral"] is True
    assert "Europe/Berlin" in shown_text(call)


async def test_slow_command_defers_then_follows_up(
    client: StudyBotDiscord, extra_commands: dict[str, Command]
) -> None:
    seen: list[Any] = []

    async def handler(bot: Any, actor: Any, args: dict[str, Any]) -> Reply:
        seen.append((actor.user_id, args))
        return Reply.of(Message(header="Graded", text=f"{args['n'] * 2} points"))

    add_command(
        extra_commands,
        Command(
            "grade-me",
            "Grade something slowly",
            None,
            (Option("n", "n", "int", True),),
            slow=True,
            handler=handler,
        ),
    )
    face = StudyBotDiscord(client.bot)
    try:
        interaction = fake_interaction()
        await command_of(face, "grade-me").callback(interaction, n=21)  # type: ignore[call-arg]
    finally:
        await face.close()
    assert seen == [("6000", {"n": 21})]
    assert response_calls(interaction) == ["response.defer", "followup.send"]
    assert interaction.response.defer.await_args.kwargs == {"ephemeral": True, "thinking": True}
    follow = interaction.followup.send.await_args
    assert follow.kwargs["ephemeral"] is True and "42 points" in shown_text(follow)


async def test_slow_public_reply_goes_after_the_private_notice(
    client: StudyBotDiscord, extra_commands: dict[str, Command]
) -> None:
    async def handler(bot: Any, actor: Any, args: dict[str, Any]) -> Reply:
        return Reply.text("Everyone sees this", ephemeral=False)

    add_command(extra_commands, Command("announce", "Announce", slow=True, handler=handler))
    face = StudyBotDiscord(client.bot)
    try:
        interaction = fake_interaction()
        await command_of(face, "announce").callback(interaction)  # type: ignore[call-arg]
    finally:
        await face.close()
    sends = interaction.followup.send.await_args_list
    assert [c.kwargs["ephemeral"] for c in sends] == [True, False]
    assert sends[1].kwargs["content"] == "Everyone sees this"


async def test_missing_long_text_opens_a_modal_that_dispatches(
    client: StudyBotDiscord, extra_commands: dict[str, Command]
) -> None:
    got: list[dict[str, Any]] = []

    async def handler(bot: Any, actor: Any, args: dict[str, Any]) -> Reply:
        got.append(args)
        return Reply.text(f"Stored answer to {args['qid']}")

    add_command(
        extra_commands,
        Command(
            "reply-long",
            "Answer at length",
            None,
            (
                Option("qid", "question id", "str", True),
                Option("body", "your answer", "text", True),
            ),
            slow=True,
            handler=handler,
        ),
    )
    face = StudyBotDiscord(client.bot)
    try:
        interaction = fake_interaction()
        await command_of(face, "reply-long").callback(interaction, qid="E3-082")  # type: ignore[call-arg]
        interaction.response.send_modal.assert_awaited_once()
        modal = interaction.response.send_modal.await_args.args[0]
        assert isinstance(modal, LongTextModal)
        box = modal.inputs["body"]
        assert box.style is discord.TextStyle.paragraph and box.required
        box._value = "Because attention scores grow with the dimension."
        submit = fake_interaction()
        await modal.on_submit(submit)
    finally:
        await face.close()
    assert got == [{"qid": "E3-082", "body": "Because attention scores grow with the dimension."}]
    assert response_calls(submit) == ["response.defer", "followup.send"]


async def test_catalogue_answer_command_uses_the_modal_for_its_text(
    client: StudyBotDiscord,
) -> None:
    spec = COMMANDS.get("answer")
    if spec is None or not any(o.type == "text" and o.required for o in spec.options):
        pytest.skip("the catalogue has no /answer with a required long text")
    interaction = fake_interaction()
    await command_of(client, "answer").callback(interaction, id="E3-082")  # type: ignore[call-arg]
    modal = interaction.response.send_modal.await_args.args[0]
    assert isinstance(modal, LongTextModal) and modal.inputs


# --- errors ------------------------------------------------------------------------------------


async def test_tree_error_handler_shows_a_studybot_error(client: StudyBotDiscord) -> None:
    interaction = fake_interaction()  # not an admin
    setup = command_of(client, "cohort setup")
    with pytest.raises(StudyBotError) as raised:
        await setup.callback(interaction, timezone="Europe/Berlin")  # type: ignore[call-arg]
    await client.tree.on_error(interaction, app_commands.CommandInvokeError(setup, raised.value))
    call = interaction.response.send_message.await_args
    assert call.kwargs["ephemeral"] is True
    assert str(raised.value) in shown_text(call)
    assert "error id" not in shown_text(call)


async def test_tree_error_handler_apologises_with_an_id(
    client: StudyBotDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    interaction = fake_interaction()
    interaction.response.defer.side_effect = None  # a deferred interaction answers by follow-up
    interaction.response.is_done.side_effect = lambda: True
    boom = RuntimeError("database password is hunter2")
    with caplog.at_level(logging.ERROR, logger="studybot"):
        await client.tree.on_error(
            interaction, app_commands.CommandInvokeError(command_of(client, "help"), boom)
        )
    call = interaction.followup.send.await_args
    text = shown_text(call)
    assert call.kwargs["ephemeral"] is True
    assert "hunter2" not in text
    error_id = re.search(r"error id ([0-9a-f]{8})", text)
    assert error_id and error_id.group(1) in caplog.text


def test_outdated_commands_ask_for_a_sync() -> None:
    reply = error_reply(app_commands.CommandNotFound("gone", []))
    assert "studybot discord sync" in reply.messages[0].text and reply.ephemeral


# --- thread replies ------------------------------------------------------------------------------


async def test_thread_reply_goes_to_the_hook_and_answers_in_thread(
    client: StudyBotDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str, str | None, str]] = []

    async def thread_reply(bot: Any, actor: Any, text: str) -> Reply | None:
        calls.append((actor.channel_id, actor.user_id, actor.thread_id, text))
        return Reply.text("Graded 3/4", ephemeral=False)

    monkeypatch.setattr(catalogue, "thread_reply", thread_reply, raising=False)
    me = create_autospec(discord.ClientUser, instance=True)
    me.id = 1
    monkeypatch.setattr(client._connection, "user", me)
    thread = create_autospec(discord.Thread, instance=True)
    thread.id, thread.parent_id, thread.owner_id = 900, 5000, 1
    message = create_autospec(discord.Message, instance=True)
    message.channel, message.content = thread, "My answer"
    message.author = create_autospec(discord.Member, instance=True)
    message.author.bot, message.author.id, message.author.display_name = False, 6000, "m"
    message.author.guild_permissions = discord.Permissions.none()
    message.guild = create_autospec(discord.Guild, instance=True)
    message.guild.id = 4000
    await client.on_message(message)
    assert calls == [("5000", "6000", "900", "My answer")]
    assert message.reply.await_args.kwargs["content"] == "Graded 3/4"

    message.reply.reset_mock()
    thread.owner_id = 2  # someone else's thread is not a question thread
    await client.on_message(message)
    assert len(calls) == 1 and not message.reply.await_count


async def test_private_thread_feedback_goes_by_dm(client: StudyBotDiscord) -> None:
    message = create_autospec(discord.Message, instance=True)
    message.author = create_autospec(discord.Member, instance=True)
    await client.deliver_thread_reply(message, Reply.text("Only for you"))
    assert message.author.send.await_args.kwargs["content"] == "Only for you"
    message.reply.assert_not_awaited()

    closed = create_autospec(aiohttp.ClientResponse, instance=True)
    closed.status, closed.reason = 403, "Forbidden"
    message.author.send.side_effect = discord.Forbidden(closed, "Cannot send messages")
    await client.deliver_thread_reply(message, Reply.text("Only for you"))
    assert "could not DM you" in message.reply.await_args.args[0]
    assert "Only for you" not in message.reply.await_args.args[0]
