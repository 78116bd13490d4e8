"""The platform-neutral message model and the ports that faces implement.

Services compose `Message`s and hand them to a `Publisher`; each face renders them within its
platform's limits. This module sits below the services, so both sides may import it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal, Protocol

log = logging.getLogger(__name__)

Platform = Literal["discord", "slack", "console"]
Tone = Literal["info", "success", "warning", "error"]


@dataclass(frozen=True)
class MessageField:
    """A labelled value shown beside the text (an embed field, a Slack section field)."""

    name: str
    value: str
    inline: bool = False


@dataclass(frozen=True)
class Button:
    """An action a member can click; `action_id` routes it back to a service."""

    label: str
    action_id: str
    value: str = ""
    url: str | None = None
    style: Literal["primary", "secondary", "danger"] = "secondary"


@dataclass(frozen=True)
class Image:
    """A picture attached to a message (PNG bytes)."""

    filename: str
    data: bytes
    alt_text: str = ""


@dataclass(frozen=True)
class Message:
    """One message as a service means it, before any platform shapes it.

    `thread_starter` marks a message members answer under (a Discord thread, a Slack thread);
    `key` names the part of a post it is, so a retry can find what was already sent.
    """

    text: str = ""
    header: str | None = None
    fields: tuple[MessageField, ...] = ()
    code: str | None = None
    code_language: str = ""
    image: Image | None = None
    buttons: tuple[Button, ...] = ()
    thread_starter: bool = False
    thread_title: str | None = None
    footer: str | None = None
    tone: Tone = "info"
    key: str = ""


@dataclass(frozen=True)
class Reply:
    """What a command returns to the member who ran it."""

    messages: tuple[Message, ...]
    ephemeral: bool = True

    @classmethod
    def of(cls, *messages: Message, ephemeral: bool = True) -> Reply:
        """Build a reply from messages."""
        return cls(messages=tuple(messages), ephemeral=ephemeral)

    @classmethod
    def text(cls, text: str, *, tone: Tone = "info", ephemeral: bool = True) -> Reply:
        """Build a one-message plain-text reply."""
        return cls(messages=(Message(text=text, tone=tone),), ephemeral=ephemeral)


@dataclass(frozen=True)
class Channel:
    """Where a cohort's posts go."""

    platform: Platform
    workspace_id: str
    channel_id: str


@dataclass(frozen=True)
class SentMessage:
    """A message the platform accepted."""

    message_id: str
    channel_id: str
    thread_id: str | None = None
    # Every platform message the post took (a long one goes out in several); empty: just
    # `message_id`. Read to withdraw the post whole; not part of what identifies it.
    parts: tuple[str, ...] = field(default=(), compare=False)


@dataclass
class PostPlan:
    """An ordered post of several messages, each with a stable part key."""

    messages: list[Message] = field(default_factory=list)


class PublishError(Exception):
    """The platform refused a message. `transient` errors are retried; others are not."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


class Publisher(Protocol):
    """The port each face implements so services can post without knowing the platform."""

    platform: Platform

    async def post(
        self, channel: Channel, message: Message, *, idempotency_key: str
    ) -> SentMessage:
        """Post one message; the key lets the platform (or a history lookup) drop a duplicate."""
        ...

    async def find_posted(self, channel: Channel, idempotency_key: str) -> SentMessage | None:
        """Find a message this bot already posted with this key, if the platform can tell."""
        ...

    async def reply_in_thread(
        self, channel: Channel, thread_id: str, message: Message
    ) -> SentMessage:
        """Post a message under a thread."""
        ...

    async def send_dm(
        self, user_id: str, message: Message, *, idempotency_key: str | None = None
    ) -> SentMessage:
        """Send a private message to one member; a key lets `find_dm` find it again."""
        ...

    async def find_dm(self, user_id: str, idempotency_key: str) -> SentMessage | None:
        """Find a private message this bot already sent this member with this key."""
        ...

    async def edit(self, sent: SentMessage, message: Message) -> None:
        """Replace a message the bot posted."""
        ...

    async def withdraw(self, sent: SentMessage) -> None:
        """Delete a post the bot made (a later copy of one another process posted first)."""
        ...


async def keep_first_copy(
    publisher: Publisher, channel: Channel, key: str, sent: SentMessage
) -> SentMessage:
    """Return the first copy of a keyed post, withdrawing `sent` when another came first.

    Call it after a send that may have raced another process's: one that took the post over
    from a process that may still be sending, or one that stalled between its fence and its
    send long enough to be taken over. Each racer sees the earlier copy once its own is stored,
    so whatever the order, the channel keeps the first and every racer returns it. The send
    succeeded whatever happens here: a look or a withdrawal that fails is logged, not raised.
    """
    try:
        first = await publisher.find_posted(channel, key)
    except PublishError as exc:
        log.warning("could not look for an earlier copy of %s: %s", key, exc)
        return sent
    if first is None or first.message_id == sent.message_id:
        return sent
    log.warning("%s was posted twice (a takeover raced a stalled send); withdrawing the later", key)
    try:
        await publisher.withdraw(sent)
    except PublishError as exc:
        log.warning("could not withdraw the later copy of %s: %s", key, exc)
    return first
