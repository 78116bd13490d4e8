"""Discord: a leaderboard page button carries its whole command line and runs it."""

from __future__ import annotations

import discord

from bot.platforms.discord_app import StudyBotDiscord
from tests.platforms.test_discord_commands import (  # noqa: F401  (fixtures)
    bot,
    client,
    command_of,
    fake_interaction,
    shown_text,
)


def button_click(custom_id: str) -> object:
    interaction = fake_interaction()
    interaction.type = discord.InteractionType.component
    interaction.data = {"custom_id": custom_id, "component_type": 2}
    return interaction


async def test_a_page_button_runs_its_command_line_and_a_bad_page_says_why(
    client: StudyBotDiscord,  # noqa: F811
) -> None:
    setup = fake_interaction(admin=True)
    await command_of(client, "cohort setup").callback(  # type: ignore[call-arg]
        setup, timezone="Europe/Berlin", post_time="08:30", name="Evening ML"
    )
    click = button_click("studybot:command:/leaderboard all streak page=1")
    await client.on_interaction(click)  # type: ignore[arg-type]
    call = click.response.send_message.await_args  # type: ignore[attr-defined]
    assert "Evening ML: streak leaderboard, all time" in shown_text(call)
    past = button_click("studybot:command:/leaderboard all streak page=2")
    await client.on_interaction(past)  # type: ignore[arg-type]
    call = past.response.send_message.await_args  # type: ignore[attr-defined]
    assert "Page 2 is past the end" in shown_text(call)
