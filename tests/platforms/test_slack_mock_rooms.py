"""Private mock rooms on Slack against the mock Web API: create, invite, post, archive."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import Channel, Message, PublishError
from bot.platforms.slack_app import SlackPublisher
from bot.platforms.slack_mock_rooms import SlackRoomHost, channel_name
from bot.services.mocks import OpenedRoom, RoomRequest
from tests.support.slack_api_server import MockSlackApi

REQUEST = RoomRequest("slack", "T0TEAM001", "C0COHORT1", "mock-7-Ada-Bob Jones", ("U1", "U2"))


@pytest_asyncio.fixture
async def api() -> AsyncIterator[MockSlackApi]:
    async with MockSlackApi() as server:
        yield server


@pytest_asyncio.fixture
async def publisher(api: MockSlackApi) -> AsyncIterator[SlackPublisher]:
    client = AsyncWebClient(token=api.token, base_url=api.base_url, retry_handlers=[])
    pub = SlackPublisher(client, channel_interval_s=0.0)
    yield pub
    await pub.aclose()


async def test_a_private_channel_with_both_members_then_archived(
    api: MockSlackApi, publisher: SlackPublisher
) -> None:
    host = SlackRoomHost(publisher)
    room = await host.open_room(REQUEST)
    info = api.private_channels[room.channel_id]
    assert info["is_private"] is True and info["name"] == "mock-7-ada-bob-jones"
    assert info["members"] == ["U1", "U2"]
    assert room.voice_channel_id is None  # members start a huddle themselves
    await publisher.post(
        Channel("slack", "T0TEAM001", room.channel_id),
        Message(text="Clarify begins now."),
        idempotency_key="mock:7:phase:clarify",
    )
    assert api.posted(room.channel_id)
    await host.close_room(room)
    assert room.channel_id in api.archived_channels


async def test_a_refused_room_is_a_clear_publish_error(
    api: MockSlackApi, publisher: SlackPublisher
) -> None:
    host = SlackRoomHost(publisher)
    await host.open_room(REQUEST)
    with pytest.raises(PublishError) as refused:
        await host.open_room(REQUEST)  # the same name twice: Slack says name_taken
    assert "name_taken" in str(refused.value) and not refused.value.transient
    with pytest.raises(PublishError):
        await host.close_room(OpenedRoom("G-gone"))


def test_channel_names_are_valid_for_slack() -> None:
    assert channel_name("Mock 12: Zoë & Al!") == "mock-12-zo-al"
    assert len(channel_name("x" * 300)) == 80
    assert channel_name("!!!") == "mock"
