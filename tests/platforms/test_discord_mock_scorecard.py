"""The mock scorecard on Discord: select menus in private messages, then the comment modal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.commands import COMMANDS, Command
from bot.messages import Reply
from bot.platforms.discord_app import StudyBotDiscord
from bot.platforms.discord_scorecard import (
    AspectSelect,
    CommentButton,
    CommentModal,
    FlagsSelect,
)
from tests.platforms.test_discord_commands import (  # noqa: F401 - fixtures
    bot,
    client,
    command_of,
    fake_interaction,
    response_calls,
)


@pytest.fixture
def recorded() -> Iterator[list[dict[str, Any]]]:
    got: list[dict[str, Any]] = []

    async def record(_bot: Any, actor: Any, args: dict[str, Any]) -> Reply:
        got.append(args)
        return Reply.text("scorecard noted")

    real = COMMANDS["mock scorecard"]
    COMMANDS["mock scorecard"] = Command(
        real.name, real.description, real.group, real.options, handler=record
    )
    yield got
    COMMANDS["mock scorecard"] = real


async def test_selects_then_a_comment_modal_send_the_scorecard(
    client: StudyBotDiscord,  # noqa: F811
    recorded: list[dict[str, Any]],
) -> None:
    interaction = fake_interaction()
    await command_of(client, "mock scorecard").callback(interaction)  # type: ignore[call-arg]
    assert response_calls(interaction) == ["response.send_message", "followup.send"]
    first = interaction.response.send_message.await_args
    assert first.kwargs["ephemeral"] is True
    views = [first.kwargs["view"], interaction.followup.send.await_args.kwargs["view"]]
    items = [item for view in views for item in view.children]
    assert all(len(view.children) <= 5 for view in views)  # five rows a message
    aspects = [i for i in items if isinstance(i, AspectSelect)]
    assert [a.aspect for a in aspects][:2] == ["Requirements", "Architecture"]
    assert len(aspects) == 7
    assert [o.value for o in aspects[0].options] == ["not-yet", "good", "great"]
    [flags] = [i for i in items if isinstance(i, FlagsSelect)]
    assert {o.description for o in flags.options} == {"red flag", "green flag"}
    for select in aspects:
        select._values = ["great" if select is aspects[0] else "good"]
        await select.callback(fake_interaction())
    flags._values = [flags.options[-1].value]
    await flags.callback(fake_interaction())
    [button] = [i for i in items if isinstance(i, CommentButton)]
    clicked = fake_interaction()
    await button.callback(clicked)
    modal = clicked.response.send_modal.await_args.args[0]
    assert isinstance(modal, CommentModal) and len(modal.children) <= 5
    modal.comment._value = "Clear and well paced."
    await modal.on_submit(fake_interaction())
    [args] = recorded
    assert args["ratings"].startswith("Requirements=great; Architecture=good")
    assert args["ratings"].count("=") == 7
    assert args["flags"] == flags.options[-1].value
    assert args["comment"] == "Clear and well paced."
