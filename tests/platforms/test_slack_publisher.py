"""SlackPublisher against the local mock Slack Web API: metadata, history lookup, error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import FakeClock
from bot.messages import Channel, Image, Message, MessageField, PublishError, SentMessage
from bot.platforms.slack_app import POST_EVENT_TYPE, SlackPublisher
from tests.support.slack_api_server import MockSlackApi

CHANNEL = Channel("slack", "T0TEAM001", "C0STUDY01")


@pytest_asyncio.fixture
async def api() -> AsyncIterator[MockSlackApi]:
    """A running mock Slack Web API."""
    async with MockSlackApi() as server:
        yield server


def make_publisher(
    api: MockSlackApi, *, interval: float = 0.0, timeout: int = 30
) -> SlackPublisher:
    """A publisher whose client talks to the mock, without slack_sdk's own retries."""
    client = AsyncWebClient(
        token=api.token, base_url=api.base_url, retry_handlers=[], timeout=timeout
    )
    return SlackPublisher(client, channel_interval_s=interval, history_limit=3)


@pytest_asyncio.fixture
async def publisher(api: MockSlackApi) -> AsyncIterator[SlackPublisher]:
    """A publisher pointed at the mock."""
    pub = make_publisher(api)
    yield pub
    await pub.aclose()


def _huge() -> Message:
    fields = tuple(MessageField(f"Field {i}", "value " * 5) for i in range(120))
    return Message(header="Long", fields=fields, thread_starter=True, key="plan")


async def test_post_attaches_metadata_and_a_thread_starter_is_its_own_thread(
    api: MockSlackApi, publisher: SlackPublisher
) -> None:
    sent = await publisher.post(
        CHANNEL,
        Message(header="E3-082", text="Why?", thread_starter=True, key="q:E3-082"),
        idempotency_key="studybot:1:3:q:E3-082",
    )
    [call] = api.calls_to("chat.postMessage")
    assert call.params["channel"] == CHANNEL.channel_id
    assert call.params["metadata"] == {
        "event_type": POST_EVENT_TYPE,
        "event_payload": {"key": "studybot:1:3:q:E3-082", "chunk": 0, "chunks": 1, "thread": True},
    }
    assert call.params["blocks"][0]["text"]["text"] == "E3-082"
    assert call.headers["Authorization"] == f"Bearer {api.token}"
    [stored] = api.posted(CHANNEL.channel_id)
    assert sent == SentMessage(stored["ts"], CHANNEL.channel_id, stored["ts"])


async def test_a_plain_post_has_no_thread(api: MockSlackApi, publisher: SlackPublisher) -> None:
    sent = await publisher.post(CHANNEL, Message(text="hi"), idempotency_key="k")
    assert sent.thread_id is None and sent.message_id == api.posted(CHANNEL.channel_id)[0]["ts"]


async def test_find_posted_pages_through_history_to_the_key(
    api: MockSlackApi, publisher: SlackPublisher
) -> None:
    target = await publisher.post(
        CHANNEL, Message(text="target", thread_starter=True), idempotency_key="studybot:1:1:q:A"
    )
    for i in range(4):  # pushes the target to the second page (history_limit=3)
        await publisher.post(CHANNEL, Message(text=f"later {i}"), idempotency_key=f"other:{i}")
    found = await publisher.find_posted(CHANNEL, "studybot:1:1:q:A")
    assert found == target
    history = api.calls_to("conversations.history")
    assert len(history) == 2
    assert history[0].params["include_all_metadata"] in ("1", "true", True)
    assert await publisher.find_posted(CHANNEL, "studybot:1:1:q:B") is None


async def test_find_posted_ignores_other_apps_metadata(
    api: MockSlackApi, publisher: SlackPublisher
) -> None:
    api.messages[CHANNEL.channel_id] = [
        {
            "type": "message",
            "ts": "1.000001",
            "text": "x",
            "metadata": {"event_type": "task_created", "event_payload": {"key": "k"}},
        }
    ]
    assert await publisher.find_posted(CHANNEL, "k") is None


async def test_rate_limit_is_transient_with_retry_after(
    api: MockSlackApi, publisher: SlackPublisher
) -> None:
    api.rate_limit(1, retry_after=7, method="chat.postMessage")
    with pytest.raises(PublishError) as caught:
        await publisher.post(CHANNEL, Message(text="x"), idempotency_key="k")
    assert caught.value.transient and caught.value.retry_after == 7.0
    assert api.posted(CHANNEL.channel_id) == []


async def test_fractional_retry_after_is_honoured(
    api: MockSlackApi, publisher: SlackPublisher
) -> None:
    api.integer_retry_after = False
    api.rate_limit(1, retry_after=0.25)
    with pytest.raises(PublishError) as caught:
        await publisher.post(CHANNEL, Message(text="x"), idempotency_key="k")
    assert caught.value.retry_after == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, "internal_error"), (503, "service_unavailable"), (200, "fatal_error")],
)
async def test_server_errors_are_transient(
    api: MockSlackApi, publisher: SlackPublisher, status: int, error: str
) -> None:
    api.fail(method="chat.postMessage", status=status, error=error)
    with pytest.raises(PublishError) as caught:
        await publisher.post(CHANNEL, Message(text="x"), idempotency_key="k")
    assert caught.value.transient and caught.value.retry_after is None


async def test_a_timeout_is_transient(api: MockSlackApi) -> None:
    publisher = make_publisher(api, timeout=1)
    api.slow(2.0, method="chat.postMessage")
    try:
        with pytest.raises(PublishError) as caught:
            await publisher.post(CHANNEL, Message(text="x"), idempotency_key="k")
    finally:
        await publisher.aclose()
    assert caught.value.transient


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("missing_channels", "channel_not_found"),
        ("not_member_channels", "not_in_channel"),
        ("archived_channels", "is_archived"),
    ],
)
async def test_channel_problems_are_permanent(
    api: MockSlackApi, publisher: SlackPublisher, setup: str, code: str
) -> None:
    getattr(api, setup).add(CHANNEL.channel_id)
    with pytest.raises(PublishError) as caught:
        await publisher.post(CHANNEL, Message(text="x"), idempotency_key="k")
    assert not caught.value.transient
    assert code in str(caught.value)


async def test_missing_scope_is_permanent(api: MockSlackApi, publisher: SlackPublisher) -> None:
    api.fail(method="chat.postMessage", error="missing_scope")
    with pytest.raises(PublishError) as caught:
        await publisher.post(CHANNEL, Message(text="x"), idempotency_key="k")
    assert not caught.value.transient and "reinstall" in str(caught.value)


async def test_posts_to_one_channel_are_paced_on_the_injected_clock() -> None:
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    # The mock counts Slack's one-message-a-second rule on the same clock and answers 429
    # to a post that comes too soon.
    async with MockSlackApi(channel_interval_s=0.2, now=lambda: clock.now().timestamp()) as api:
        client = AsyncWebClient(token=api.token, base_url=api.base_url, retry_handlers=[])
        publisher = SlackPublisher(client, channel_interval_s=0.2, clock=clock)
        other = Channel("slack", "T", "C0OTHER01")
        start = clock.now()
        try:
            for i in range(3):
                await publisher.post(CHANNEL, Message(text=str(i)), idempotency_key=f"k{i}")
            paced = clock.now()
            await publisher.post(other, Message(text="o"), idempotency_key="o")
        finally:
            await publisher.aclose()
    calls = api.calls_to("chat.postMessage")
    assert api.rate_limited == 0 and all(c.status == 200 for c in calls)
    same = [c.at for c in calls if c.params["channel"] == CHANNEL.channel_id]
    assert [round(b - a, 6) for a, b in zip(same, same[1:], strict=False)] == [0.2, 0.2]
    assert (paced - start).total_seconds() == pytest.approx(0.4)
    assert clock.now() == paced  # the other channel did not wait behind the first


async def test_long_message_resumes_with_only_the_missing_chunk(
    api: MockSlackApi, publisher: SlackPublisher
) -> None:
    message = _huge()
    api.fail(method="chat.postMessage", status=500, nth=2)
    with pytest.raises(PublishError):
        await publisher.post(CHANNEL, message, idempotency_key="studybot:1:1:plan")
    fresh = make_publisher(api)  # a new process knows nothing but what Slack's history says
    try:
        assert await fresh.find_posted(CHANNEL, "studybot:1:1:plan") is None
        sent = await fresh.post(CHANNEL, message, idempotency_key="studybot:1:1:plan")
        assert await fresh.find_posted(CHANNEL, "studybot:1:1:plan") == sent
    finally:
        await fresh.aclose()
    posted = api.posted(CHANNEL.channel_id)
    chunks = [m["metadata"]["event_payload"]["chunk"] for m in posted]
    assert sorted(chunks) == list(range(posted[0]["metadata"]["event_payload"]["chunks"]))
    assert sent.message_id == posted[0]["ts"] == sent.thread_id


async def test_a_later_copy_is_found_behind_the_first_and_withdrawn_whole(
    api: MockSlackApi, publisher: SlackPublisher
) -> None:
    # Two processes posted the same long part (a takeover raced a stalled send). The look reads
    # pages of the bot's usual size, which hold both copies of a race.
    message = _huge()
    other = make_publisher(api)
    publisher.history_limit = 200
    try:
        first = await other.post(CHANNEL, message, idempotency_key="studybot:1:1:plan")
    finally:
        await other.aclose()
    later = await publisher.post(CHANNEL, message, idempotency_key="studybot:1:1:plan")
    assert len(later.parts) > 1 and later.message_id == later.parts[0]
    assert await publisher.find_posted(CHANNEL, "studybot:1:1:plan") == first
    await publisher.withdraw(later)
    left = {m["ts"] for m in api.posted(CHANNEL.channel_id)}
    assert left == set(first.parts)
    assert {d["ts"] for d in api.deleted} == set(later.parts)
    await publisher.withdraw(later)  # already gone: nothing to do, no error
    assert len(api.calls_to("chat.delete")) == 2 * len(later.parts)
    assert await publisher.find_posted(CHANNEL, "studybot:1:1:plan") == first


async def test_a_withdrawn_post_takes_its_picture_with_it(
    api: MockSlackApi, publisher: SlackPublisher
) -> None:
    message = Message(header="Week in review", image=Image("recap.png", b"\x89PNG", "a chart"))
    sent = await publisher.post(CHANNEL, message, idempotency_key="recap:1:2026-11-30")
    [file_id] = api.files
    assert api.files[file_id]["channel"] == CHANNEL.channel_id
    await publisher.withdraw(sent)
    assert api.files == {} and api.posted(CHANNEL.channel_id) == []
    assert [d.get("file") for d in api.deleted] == [None, file_id]
    await publisher.withdraw(sent)  # both already gone: no error


async def test_reply_dm_and_edit(api: MockSlackApi, publisher: SlackPublisher) -> None:
    parent = await publisher.post(
        CHANNEL, Message(text="question", thread_starter=True), idempotency_key="q"
    )
    assert parent.thread_id is not None
    reply = await publisher.reply_in_thread(CHANNEL, parent.thread_id, Message(text="graded"))
    assert reply.thread_id == parent.thread_id
    assert api.threads[parent.thread_id][0]["text"] == "graded"
    dm = await publisher.send_dm("U0ADMIN01", Message(text="paused"))
    assert dm.channel_id == "DU0ADMIN01"
    assert api.calls_to("conversations.open")[0].params["users"] == "U0ADMIN01"
    await publisher.edit(parent, Message(text="question (closed)"))
    assert api.posted(CHANNEL.channel_id)[0]["text"] == "question (closed)"
