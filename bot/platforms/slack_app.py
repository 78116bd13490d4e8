"""The Slack face: one `/study` slash command, thread replies, a modal, and the Publisher.

Socket Mode when SLACK_APP_TOKEN is set, HTTP mode (signed requests on /slack/events)
otherwise. In HTTP mode `SignedRequestGate` stands in front of Bolt: a request whose signature
does not check out is refused with 401 and one short log line before anything reads it. Every
delivery is taken in once (`DeliveryService`, by `event_id` or `trigger_id`), so Slack's
retries do nothing twice. Every handler acknowledges at once and does the work afterwards.
Failures are rendered in one place, `SlackFace.on_error`, which is also the app's `@app.error`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot import commands as catalogue
from bot.clock import Clock, SystemClock
from bot.commands import COMMANDS, Command, dispatch, parse_command_line
from bot.drill_commands import submit_progress
from bot.errors import StudyBotError, user_message_for
from bot.messages import Channel, Image, Message, Platform, PublishError, Reply, SentMessage
from bot.platforms.face_plumbing import (
    clip,
    member_actor,
    missing_text_options,
    option_label,
    retry_after_seconds,
)
from bot.platforms.slack_render import SLASH_COMMAND, render_message, render_reply
from bot.platforms.slack_scorecard import SCORECARD_PATH, scorecard_args, scorecard_modal
from bot.platforms.slack_submit import (
    SUBMIT_MESSAGE,
    ProgressMessage,
    download_shared_file,
    submit_request,
)
from bot.services.context import Actor
from bot.services.deliveries import DeliveryService

if TYPE_CHECKING:
    from bot.app import StudyBot

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
POST_EVENT_TYPE = "studybot_post"
MODAL_CALLBACK_ID = "studybot_command"
COMMAND_BUTTON_PREFIX = "/"
# Slack cuts a message's text at 40,000 characters; a command line longer than that was not
# typed in Slack, and reading it would only delay the acknowledgement.
MAX_COMMAND_TEXT = 40_000
# The largest body the gate reads: a modal submission or an event with blocks stays far below.
MAX_BODY_BYTES = 512 * 1024
# Slack signs each request with its time; one older (or newer) than this is a replay.
SIGNATURE_WINDOW_S = 300
# A post's picture among its parts (`SentMessage.parts`), beside the ts of each message.
FILE_PART = "file:"
# What Slack answers when asked to delete something no longer there.
ALREADY_GONE = ("message_not_found", "file_not_found", "file_deleted")
# A refused request leaves one log line of at most this many characters.
MAX_REFUSAL_LOG = 200

# Every Web API method the face calls, with the bot scopes it needs (checked against the
# manifest by the tests, so a new call cannot ship without its scope).
REQUIRED_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    # Called with the app-level token, whose connections:write scope is not a bot scope.
    "apps.connections.open": (),
    "chat.postMessage": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.update": ("chat:write",),
    # A later copy of a post another process made first (a takeover raced a stalled send).
    "chat.delete": ("chat:write",),
    "files.delete": ("files:write",),
    # A post's channel, or a member's DM conversation (find a keyed DM again).
    "conversations.history": ("channels:history", "groups:history", "im:history"),
    "conversations.info": ("channels:read", "groups:read"),
    "conversations.open": ("im:write",),
    "files.info": ("files:read",),
    # files_upload_v2 (charts): an upload URL, the bytes, then the share into a channel.
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    "users.info": ("users:read",),
    "views.open": (),
}
EVENT_SCOPES: dict[str, tuple[str, ...]] = {
    "message.channels": ("channels:history",),
    "message.groups": ("groups:history",),
}

# Slack error codes that a later try can succeed on; everything else is the channel's or the
# installation's fault and needs a person.
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
PERMANENT_REASONS = {
    "channel_not_found": "the channel is gone, or it is private and the bot is not in it",
    "not_in_channel": "the bot is not a member of the channel; invite it with /invite @StudyBot",
    "is_archived": "the channel is archived",
    "missing_scope": "the app lacks a permission; reinstall it from slack_manifest.yaml",
    "invalid_auth": "the bot token is not valid",
    "token_revoked": "the bot token was revoked",
    "account_inactive": "the bot's account is deactivated",
    "restricted_action": "a workspace setting forbids the bot to post there",
}
_THREAD_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})


def publish_error_from(exc: SlackApiError) -> PublishError:
    """Translate a Slack API failure into a PublishError that says whether a retry can help."""
    response = exc.response
    status = getattr(response, "status_code", 200)
    data = getattr(response, "data", None)
    code = str(data.get("error", "")) if isinstance(data, dict) else ""
    if status == 429 or code == "ratelimited":
        headers = getattr(response, "headers", None) or {}
        retry_after = retry_after_seconds(headers, default=1.0)
        return PublishError(
            "Slack rate limit (ratelimited)", transient=True, retry_after=retry_after
        )
    if status >= 500 or code in TRANSIENT_ERRORS:
        return PublishError(f"Slack is unavailable ({code or f'HTTP {status}'})", transient=True)
    reason = PERMANENT_REASONS.get(code)
    text = f"Slack refused the message ({code or f'HTTP {status}'})"
    return PublishError(f"{text}: {reason}" if reason else text, transient=False)


def post_metadata(idempotency_key: str, *, chunk: int, chunks: int, thread: bool) -> dict[str, Any]:
    """Return the message metadata that lets the bot find a post of its own again."""
    return {
        "event_type": POST_EVENT_TYPE,
        "event_payload": {
            "key": idempotency_key,
            "chunk": chunk,
            "chunks": chunks,
            "thread": thread,
        },
    }


class SlackPublisher:
    """The Publisher port over Slack's Web API.

    Posts carry metadata naming their idempotency key, so `find_posted` can tell from the
    channel's history whether Slack accepted a message whose answer never arrived. Posts to one
    channel are paced at `channel_interval_s` (Slack allows about one message a second per
    channel), so a fan-out waits its turn instead of collecting 429s; the wait is the injected
    clock's, so tests and demos pace without waiting on the wall clock.
    """

    platform: Platform = "slack"

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        channel_interval_s: float = 1.0,
        history_limit: int = 200,
        history_pages: int = 2,
        connection_limit: int = 100,
        clock: Clock | None = None,
    ) -> None:
        self._client = client
        self._clock: Clock = clock or SystemClock()
        self.channel_interval_s = channel_interval_s
        self.history_limit = history_limit
        self.history_pages = history_pages
        self._connection_limit = connection_limit
        self._own_session: aiohttp.ClientSession | None = None
        self._next_slot: dict[str, float] = {}
        # chunks of a multi-part message already accepted: key -> {chunk index: ts}
        self._partial: dict[str, dict[int, str]] = {}

    @property
    def client(self) -> AsyncWebClient:
        """Return the Web API client posts go through."""
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP connections the publisher opened."""
        if self._own_session is not None:
            await self._own_session.close()
            self._own_session = None
            self._client.session = None

    def _ensure_session(self) -> None:
        # Without a shared session slack_sdk opens a connection per call; a fan-out of
        # thousands of posts would spend its CPU on TLS and socket set-up.
        if self._client.session is None or self._client.session.closed:
            self._own_session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connection_limit),
                timeout=aiohttp.ClientTimeout(total=self._client.timeout),
            )
            self._client.session = self._own_session

    async def _call(
        self, method: Callable[..., Awaitable[AsyncSlackResponse]], **kwargs: Any
    ) -> AsyncSlackResponse:
        self._ensure_session()
        try:
            return await method(**kwargs)
        except SlackApiError as exc:
            raise publish_error_from(exc) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise PublishError(
                f"Slack did not answer ({type(exc).__name__})", transient=True
            ) from exc

    async def _pace(self, channel_id: str) -> None:
        if self.channel_interval_s <= 0:
            return
        now = self._clock.now().timestamp()
        slot = max(now, self._next_slot.get(channel_id, now))
        self._next_slot[channel_id] = slot + self.channel_interval_s
        if slot > now:
            await self._clock.sleep(slot - now)

    async def _post_payload(
        self, channel_id: str, payload: Mapping[str, Any], **extra: Any
    ) -> AsyncSlackResponse:
        await self._pace(channel_id)
        try:
            return await self._call(
                self._client.chat_postMessage, channel=channel_id, **payload, **extra
            )
        finally:
            # Slack counts from when it handled the message, somewhere before its answer came
            # back; counting from the answer keeps a slow request from bunching the next two.
            if self.channel_interval_s > 0:
                after = self._clock.now().timestamp() + self.channel_interval_s
                self._next_slot[channel_id] = max(self._next_slot.get(channel_id, 0.0), after)

    async def post(
        self, channel: Channel, message: Message, *, idempotency_key: str
    ) -> SentMessage:
        """Post a message (in several Slack messages when it is too long), tagged with its key."""
        parts = await self._post_keyed(channel.channel_id, message, idempotency_key)
        first = parts[0]
        thread = first if message.thread_starter else None
        return SentMessage(first, channel.channel_id, thread, parts=parts)

    async def _post_keyed(
        self, channel_id: str, message: Message, idempotency_key: str
    ) -> tuple[str, ...]:
        """Post every chunk not yet accepted, each tagged with the key; return every ts."""
        payloads = render_message(message)
        done = self._partial.setdefault(idempotency_key, {})
        for index, payload in enumerate(payloads):
            if index in done:
                continue
            response = await self._post_payload(
                channel_id,
                payload,
                metadata=post_metadata(
                    idempotency_key,
                    chunk=index,
                    chunks=len(payloads),
                    thread=message.thread_starter,
                ),
            )
            done[index] = str(response["ts"])
        self._partial.pop(idempotency_key, None)
        parts = tuple(done[index] for index in sorted(done))
        if message.image is not None:
            file_id = await self.upload_image(channel_id, message.image)
            parts += (f"{FILE_PART}{file_id}",) if file_id else ()
        return parts

    async def find_posted(self, channel: Channel, idempotency_key: str) -> SentMessage | None:
        """Look for a post with this key in the channel's recent history (message metadata).

        Of two copies (a takeover raced a stalled send) it returns the first, when the pages it
        reads hold both: a page is 200 messages, and a race's copies are seconds apart.
        """
        found = await self._find_keyed(channel.channel_id, idempotency_key)
        if found is None:
            return None
        first, thread = found
        return SentMessage(first, channel.channel_id, first if thread else None)

    async def _find_keyed(self, channel_id: str, idempotency_key: str) -> tuple[str, bool] | None:
        """Find every chunk of a keyed message in a conversation; return (first ts, thread)."""
        found: dict[int, str] = {}
        chunks = 1
        thread = False
        cursor: str | None = None
        for _ in range(self.history_pages):
            response = await self._call(
                self._client.conversations_history,
                channel=channel_id,
                include_all_metadata=True,
                limit=self.history_limit,
                cursor=cursor,
            )
            items: list[dict[str, Any]] = response.get("messages", []) or []
            for item in items:
                meta = item.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") != POST_EVENT_TYPE:
                    continue
                if payload.get("key") != idempotency_key:
                    continue
                found[int(payload.get("chunk", 0))] = str(item["ts"])
                chunks = int(payload.get("chunks", 1))
                thread = bool(payload.get("thread", False))
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None or len(found) >= chunks:
                break
        if not found:
            return None
        if len(found) < chunks or 0 not in found:
            # Part of a long message went out: remember it so the retry sends only the rest.
            self._partial.setdefault(idempotency_key, {}).update(found)
            return None
        return found[0], thread

    async def reply_in_thread(
        self, channel: Channel, thread_id: str, message: Message
    ) -> SentMessage:
        """Post a message under a thread (the thread id is the starter's ts)."""
        first: str | None = None
        for payload in render_message(message):
            response = await self._post_payload(channel.channel_id, payload, thread_ts=thread_id)
            first = first or str(response["ts"])
        assert first is not None
        return SentMessage(first, channel.channel_id, thread_id)

    async def send_dm(
        self, user_id: str, message: Message, *, idempotency_key: str | None = None
    ) -> SentMessage:
        """Open (or reuse) the direct conversation with a member and post there.

        A keyed DM carries the key in its metadata like a channel post, so `find_dm` can tell
        from the conversation's history whether Slack accepted it.
        """
        dm_channel = await self.open_dm(user_id)
        if idempotency_key is not None:
            parts = await self._post_keyed(dm_channel, message, idempotency_key)
            return SentMessage(parts[0], dm_channel, parts=parts)
        first: str | None = None
        for payload in render_message(message):
            response = await self._post_payload(dm_channel, payload)
            first = first or str(response["ts"])
        assert first is not None
        if message.image is not None:
            await self.upload_image(dm_channel, message.image)
        return SentMessage(first, dm_channel)

    async def find_dm(self, user_id: str, idempotency_key: str) -> SentMessage | None:
        """Look for a DM with this key in the member's direct conversation history."""
        dm_channel = await self.open_dm(user_id)
        found = await self._find_keyed(dm_channel, idempotency_key)
        return None if found is None else SentMessage(found[0], dm_channel)

    async def open_dm(self, user_id: str) -> str:
        """Open (or reuse) the direct conversation with a member; return its channel id."""
        opened = await self._call(self._client.conversations_open, users=user_id)
        return str((opened.get("channel") or {})["id"])

    async def upload_image(
        self, channel_id: str, image: Image, *, thread_ts: str | None = None
    ) -> str | None:
        """Upload a message's picture into a channel (files_upload_v2), under a thread if given.

        Return the file's id, when Slack tells it.
        """
        response = await self._call(
            self._client.files_upload_v2,
            channel=channel_id,
            content=None,
            file=image.data,
            filename=image.filename,
            title=image.filename,
            alt_txt=image.alt_text[:1000] or None,
            thread_ts=thread_ts,
        )
        files = response.get("files") or [response.get("file") or {}]
        file_id = files[0].get("id") if files and isinstance(files[0], dict) else None
        return str(file_id) if file_id else None

    async def edit(self, sent: SentMessage, message: Message) -> None:
        """Replace a posted message; a message that grew past one Slack message is clipped."""
        payloads = render_message(message)
        if len(payloads) > 1:
            log.warning("edit of %s needs %d messages; keeping the first", sent, len(payloads))
        payload = {k: v for k, v in payloads[0].items() if k in ("text", "blocks")}
        await self._call(
            self._client.chat_update, channel=sent.channel_id, ts=sent.message_id, **payload
        )

    async def withdraw(self, sent: SentMessage) -> None:
        """Delete a post the bot made, every message and picture of it; one gone is no error."""
        for part in sent.parts or (sent.message_id,):
            try:
                if part.startswith(FILE_PART):
                    await self._call(self._client.files_delete, file=part[len(FILE_PART) :])
                else:
                    await self._call(self._client.chat_delete, channel=sent.channel_id, ts=part)
            except PublishError as exc:
                if not any(gone in str(exc) for gone in ALREADY_GONE):
                    raise


# --- the front door ---------------------------------------------------------------------------


class SignedRequestGate:
    """HTTP mode's front door: only a request Slack signed reaches the app.

    The signature is checked on the raw bytes before anything parses them; a request without
    a valid one is answered 401 and leaves one short log line, and a signed body that is not
    a Slack payload is answered 400. Neither reaches Bolt, so nothing in it is read, answered
    or logged.
    """

    def __init__(
        self,
        app: AsyncApp,
        signing_secret: str,
        *,
        wall_clock: Callable[[], float] = time.time,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        if not signing_secret:
            raise ValueError("the gate needs the signing secret")
        self._app = app
        self._secret = signing_secret.encode()
        # Slack signs with its wall-clock time, so the window is measured on the wall clock.
        self._wall_clock = wall_clock
        self.max_body_bytes = max_body_bytes
        self.passed = 0
        self.refused = 0

    def web_app(self) -> web.Application:
        """Return the aiohttp application that serves the events path."""
        application = web.Application(client_max_size=self.max_body_bytes)
        application.router.add_post(EVENTS_PATH, self.handle)
        return application

    def signature_problem(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        """Say why a request's signature does not hold; None when Slack signed it."""
        timestamp = headers.get("X-Slack-Request-Timestamp")
        signature = headers.get("X-Slack-Signature")
        if not timestamp or not signature:
            return "unsigned"
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            return "malformed timestamp"
        if abs(self._wall_clock() - int(timestamp)) > SIGNATURE_WINDOW_S:
            return "timestamp outside the signature window"
        if not (signature.isascii() and signature.startswith("v0=") and len(signature) == 67):
            return "malformed signature"
        base = b"v0:" + timestamp.encode() + b":" + body
        expected = "v0=" + hmac.new(self._secret, base, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return "wrong signature"
        return None

    def _refuse(self, request: web.Request, status: int, reason: str) -> web.Response:
        self.refused += 1
        line = f"refused a Slack request from {request.remote or '?'}: {reason} (HTTP {status})"
        log.warning("%s", clip(line, MAX_REFUSAL_LOG))
        return web.Response(status=status, text="")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Check one request and hand it to the app only when Slack signed it."""
        length = request.content_length
        if length is not None and length > self.max_body_bytes:
            return self._refuse(request, 413, f"body of {length} bytes")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._refuse(request, 413, "body too large")
        problem = self.signature_problem(raw, request.headers)
        if problem is not None:
            return self._refuse(request, 401, problem)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self._refuse(request, 400, "signed body is not UTF-8")
        problem = payload_problem(text, request.content_type)
        if problem is not None:
            return self._refuse(request, 400, problem)
        bolt_request = AsyncBoltRequest(
            body=text,
            query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]
        )
        try:
            response = await self._app.async_dispatch(bolt_request)
        except Exception as exc:  # a signed payload of a shape Bolt cannot route
            return self._refuse(request, 400, f"signed payload Bolt cannot take ({exc!r})")
        self.passed += 1
        return await to_aiohttp_response(response)


def payload_problem(text: str, content_type: str) -> str | None:
    """Say why a signed body is not a payload Slack sends; None when it is one."""
    if content_type == "application/json":
        try:
            parsed = json.loads(text)
        except ValueError:
            return "signed body is not JSON"
        return None if isinstance(parsed, dict) else "signed JSON body is not an object"
    if content_type == "application/x-www-form-urlencoded":
        form = parse_qs(text, keep_blank_values=True)
        if "payload" in form:
            try:
                parsed = json.loads(form["payload"][0])
            except ValueError:
                return "signed payload is not JSON"
            return None if isinstance(parsed, dict) else "signed payload is not an object"
        if "command" in form or "ssl_check" in form:
            return None
        return "signed form is neither a command nor a payload"
    return "unexpected content type"


def delivery_key(body: Mapping[str, Any]) -> str | None:
    """Name a delivery the way a retry or a repeat names it again: event_id or trigger_id."""
    event_id = body.get("event_id")
    if isinstance(event_id, str) and event_id:
        return f"event:{event_id}"
    trigger_id = body.get("trigger_id")
    if isinstance(trigger_id, str) and trigger_id:
        return f"trigger:{trigger_id}"
    return None


# --- the face ------------------------------------------------------------------------------


Respond = Callable[..., Awaitable[Any]]
# The channel cannot take the bot's message (a DM between members, a channel the bot is not in).
UNREACHABLE_CHANNEL = frozenset({"not_in_channel", "channel_not_found", "user_not_in_channel"})


def _slack_error(exc: SlackApiError) -> str:
    data = getattr(exc.response, "data", None)
    return str(data.get("error", "")) if isinstance(data, dict) else ""


def unescape_command_text(text: str) -> str:
    """Undo the escaping Slack applies to &, < and > in a command's text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def command_modal(spec: Command, args: Mapping[str, Any], channel_id: str) -> dict[str, Any]:
    """Build the modal that asks for a command's options the slash command did not give."""
    blocks: list[dict[str, Any]] = []
    given = [(o, args[o.name]) for o in spec.options if args.get(o.name)]
    if given:
        summary = "\n".join(f"*{option_label(o)}:* {clip(str(v), 200)}" for o, v in given)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": summary}})
    for opt in spec.options:
        if args.get(opt.name):
            continue
        blocks.append(
            {
                "type": "input",
                "block_id": opt.name,
                "optional": not opt.required,
                "label": {"type": "plain_text", "text": clip(option_label(opt), 2000)},
                "hint": {"type": "plain_text", "text": clip(opt.description, 2000)},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": opt.type in ("text", "file"),
                },
            }
        )
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK_ID,
        "title": {"type": "plain_text", "text": clip(f"{SLASH_COMMAND} {spec.path}", 24)},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps(
            {"path": spec.path, "channel_id": channel_id, "args": dict(args)}
        ),
        "blocks": blocks,
    }


def _replacing_first(respond: Respond) -> Respond:
    """Wrap respond so that its first response replaces the "working on it" note."""
    sent = False

    async def replacing(**payload: Any) -> Any:
        nonlocal sent
        if not sent:
            sent = True
            payload = {**payload, "replace_original": True}
        return await respond(**payload)

    return replacing


def _private_metadata(body: Mapping[str, Any]) -> dict[str, Any]:
    raw = (body.get("view") or {}).get("private_metadata") or "{}"
    try:
        meta = json.loads(raw)
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


MAX_CACHED_MEMBERS = 10_000  # past this, entries that expired are dropped before adding more


class MemberDirectory:
    """What Slack says about a member (display name, admin rights), asked once a while."""

    def __init__(self, clock: Clock, *, ttl: timedelta = timedelta(minutes=5)) -> None:
        self._clock = clock
        self._ttl = ttl
        self._members: dict[tuple[str, str], tuple[datetime, str, bool]] = {}
        self._channels: dict[str, tuple[datetime, str]] = {}

    async def member(
        self, client: AsyncWebClient, team_id: str, user_id: str
    ) -> tuple[str, bool] | None:
        """Return a member's display name and whether they administer the workspace."""
        now = self._clock.now()
        cached = self._members.get((team_id, user_id))
        if cached and cached[0] > now:
            return cached[1], cached[2]
        try:
            info = await client.users_info(user=user_id)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not look up Slack member %s: %s", user_id, type(exc).__name__)
            return None
        user = info.get("user") or {}
        profile = user.get("profile") or {}
        name = str(
            profile.get("display_name")
            or profile.get("real_name")
            or user.get("real_name")
            or user.get("name")
            or ""
        )
        admin = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        if len(self._members) >= MAX_CACHED_MEMBERS:
            self._members = {k: v for k, v in self._members.items() if v[0] > now}
        self._members[(team_id, user_id)] = (now + self._ttl, name, admin)
        return name, admin

    async def channel_name(self, client: AsyncWebClient, channel_id: str) -> str | None:
        """Return a channel's name as members see it, or None when Slack does not say."""
        now = self._clock.now()
        cached = self._channels.get(channel_id)
        if cached and cached[0] > now:
            return cached[1]
        try:
            info = await client.conversations_info(channel=channel_id)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not look up Slack channel %s: %s", channel_id, type(exc).__name__)
            return None
        name = str((info.get("channel") or {}).get("name") or "")
        if not name:
            return None
        self._channels[channel_id] = (now + self._ttl, name)
        return name


class SlackFace:
    """Turns Slack requests into `dispatch` calls and renders what comes back."""

    def __init__(
        self,
        bot: StudyBot,
        app: AsyncApp,
        publisher: SlackPublisher,
        deliveries: DeliveryService,
        *,
        member_ttl: timedelta = timedelta(minutes=5),
    ) -> None:
        self.bot = bot
        self.app = app
        self.publisher = publisher
        self.deliveries = deliveries
        self.directory = MemberDirectory(bot.clock, ttl=member_ttl)
        app.middleware(self.once)
        app.command(SLASH_COMMAND)(self.on_command)
        app.event("message")(self.on_message)
        app.view(MODAL_CALLBACK_ID)(self.on_modal_submit)
        app.action(re.compile(".+"))(self.on_button)
        app.error(self.on_error)

    async def once(
        self, body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        """Acknowledge a retried or repeated delivery and do nothing else with it."""
        key = delivery_key(body)
        if key is not None:
            try:
                first = await self.deliveries.first_delivery("slack", key)
            except Exception as exc:  # losing the record must not lose the request
                log.error("could not record Slack delivery %s: %s", clip(key, 80), exc)
                first = True
            if not first:
                log.info("acknowledged a repeated Slack delivery %s", clip(key, 80))
                return BoltResponse(status=200, body="")
        await next()
        return None

    async def actor(
        self,
        client: AsyncWebClient,
        *,
        team_id: str,
        channel_id: str,
        user_id: str,
        fallback_name: str = "",
        thread_id: str | None = None,
    ) -> Actor:
        """Describe the member behind a request, with the name and rights Slack gives them."""
        known = await self.directory.member(client, team_id, user_id)
        name, admin = known if known is not None else (fallback_name, False)
        return member_actor(
            "slack",
            workspace_id=team_id,
            channel_id=channel_id,
            user_id=user_id,
            display_name=name or fallback_name,
            is_workspace_admin=admin,
            thread_id=thread_id,
        )

    async def send_reply(
        self,
        reply: Reply,
        *,
        client: AsyncWebClient,
        channel_id: str,
        user_id: str,
        respond: Respond | None = None,
        thread_ts: str | None = None,
    ) -> None:
        """Show a reply: through the response_url when there is one, else by posting.

        A channel the bot cannot post in (a DM between members, a channel it was not invited
        to) gets nothing; the member gets the reply by DM instead.
        """
        payloads = render_reply(reply)
        try:
            for index, payload in enumerate(payloads):
                # A response_url takes five responses at most; later parts are posted directly.
                if respond is not None and index < 5:
                    await respond(**payload)
                    continue
                body = {k: v for k, v in payload.items() if k in ("text", "blocks")}
                if thread_ts:
                    body["thread_ts"] = thread_ts
                if reply.ephemeral:
                    await client.chat_postEphemeral(channel=channel_id, user=user_id, **body)
                else:
                    await client.chat_postMessage(channel=channel_id, **body)
            await self._upload_reply_images(reply, channel_id=channel_id, user_id=user_id)
        except SlackApiError as exc:
            if _slack_error(exc) not in UNREACHABLE_CHANNEL or not user_id:
                raise
            log.info("channel %s is out of reach (%s); replying by DM", channel_id, exc)
            for message in reply.messages:
                await self.publisher.send_dm(user_id, message)

    async def _upload_reply_images(self, reply: Reply, *, channel_id: str, user_id: str) -> None:
        """Upload a reply's pictures: to the member's DM when the reply is only for them."""
        images = [m.image for m in reply.messages if m.image is not None]
        if not images:
            return
        target = channel_id
        if reply.ephemeral and user_id:
            # A file shared in a channel is seen by everyone; a private reply's chart goes to DM.
            target = await self.publisher.open_dm(user_id)
        for image in images:
            await self.publisher.upload_image(target, image)

    async def on_command(
        self,
        ack: Callable[..., Awaitable[None]],
        body: dict[str, Any],
        command: dict[str, Any],
        respond: Respond,
        client: AsyncWebClient,
    ) -> None:
        """Handle `/study <subcommand> [args]`: ack at once, then run it and respond."""
        raw = str(command.get("text") or "")
        if len(raw) > MAX_COMMAND_TEXT:
            await ack()
            too_long = StudyBotError(
                f"That is longer than Slack allows ({MAX_COMMAND_TEXT:,} characters)."
            )
            await self.on_error(too_long, body, client, respond)
            return
        try:
            path, args = parse_command_line(unescape_command_text(raw).strip() or "help")
        except StudyBotError as exc:
            await ack()
            await self.on_error(exc, body, client, respond)
            return
        spec = COMMANDS.get(path)
        if spec is not None and missing_text_options(spec, args) and command.get("trigger_id"):
            await ack()
            await self._guarded(
                body, client, respond, self._open_modal(spec, args, command, client)
            )
            return
        if spec is not None and spec.slow:
            await ack(text=f":hourglass_flowing_sand: Working on {SLASH_COMMAND} {spec.path}…")
            respond = _replacing_first(respond)
        else:
            await ack()
        await self._guarded(
            body, client, respond, self._run_command(path, args, command, respond, client)
        )

    async def _guarded(
        self,
        body: dict[str, Any],
        client: AsyncWebClient,
        respond: Respond | None,
        work: Awaitable[None],
    ) -> None:
        # Errors are caught here rather than left to Bolt: one raised within milliseconds of
        # ack() makes Bolt drop the ack, and Slack would show the member a timeout instead.
        try:
            await work
        except Exception as exc:
            await self.on_error(exc, body, client, respond)

    async def _open_modal(
        self, spec: Command, args: dict[str, Any], command: dict[str, Any], client: AsyncWebClient
    ) -> None:
        channel_id = str(command.get("channel_id", ""))
        if spec.path == SCORECARD_PATH:  # selects on the guide's scale, not text boxes
            form = self.bot.mocks.scorecard_form()
            view = scorecard_modal(form, callback_id=MODAL_CALLBACK_ID, channel_id=channel_id)
        else:
            view = command_modal(spec, args, channel_id)
        await client.views_open(trigger_id=command["trigger_id"], view=view)

    async def _run_command(
        self,
        path: str,
        args: dict[str, Any],
        command: dict[str, Any],
        respond: Respond,
        client: AsyncWebClient,
    ) -> None:
        channel_id = str(command.get("channel_id", ""))
        user_id = str(command.get("user_id", ""))
        actor = await self.actor(
            client,
            team_id=str(command.get("team_id", "")),
            channel_id=channel_id,
            user_id=user_id,
            fallback_name=str(command.get("user_name", "")),
        )
        if path == "cohort setup" and not args.get("name"):
            args = await self._with_channel_name(client, actor, args)
        reply = await dispatch(self.bot, actor, path, args)
        await self.send_reply(
            reply, client=client, channel_id=channel_id, user_id=user_id, respond=respond
        )

    async def _with_channel_name(
        self, client: AsyncWebClient, actor: Actor, args: dict[str, Any]
    ) -> dict[str, Any]:
        # A new cohort is named after its channel as members see it, not the channel's id;
        # an existing one keeps the name it has.
        if await self.bot.cohorts.cohort_for(actor) is not None:
            return args
        name = await self.directory.channel_name(client, actor.channel_id)
        return {**args, "name": f"#{name}"} if name else args

    async def on_message(
        self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """Treat a member's reply in a question's thread as an answer."""
        if event.get("bot_id") or event.get("subtype") not in _THREAD_SUBTYPES:
            return
        if event.get("files") and SUBMIT_MESSAGE.match(str(event.get("text") or "")):
            await self._guarded(body, client, None, self._submit_shared_file(event, body, client))
            return
        thread_ts = event.get("thread_ts")
        if not thread_ts or thread_ts == event.get("ts"):
            return
        await self._guarded(body, client, None, self._answer_in_thread(event, body, client))

    async def _answer_in_thread(
        self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        handler = getattr(catalogue, "thread_reply", None)
        if handler is None:
            return
        thread_ts = str(event["thread_ts"])
        channel_id = str(event.get("channel", ""))
        user_id = str(event.get("user", ""))
        actor = await self.actor(
            client,
            team_id=str(body.get("team_id") or event.get("team", "")),
            channel_id=channel_id,
            user_id=user_id,
            thread_id=thread_ts,
        )
        reply: Reply | None = await handler(self.bot, actor, str(event.get("text", "")))
        if reply is not None:
            await self.send_reply(
                reply, client=client, channel_id=channel_id, user_id=user_id, thread_ts=thread_ts
            )

    async def on_modal_submit(
        self,
        ack: Callable[..., Awaitable[None]],
        body: dict[str, Any],
        view: dict[str, Any],
        client: AsyncWebClient,
    ) -> None:
        """Run the command a modal collected the options of."""
        await ack()
        await self._guarded(body, client, None, self._submit_modal(body, view, client))

    async def _submit_modal(
        self, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        meta = _private_metadata(body)
        args: dict[str, Any] = dict(meta.get("args") or {})
        for block_id, inputs in (view.get("state") or {}).get("values", {}).items():
            value = (inputs.get("value") or {}).get("value")
            if value not in (None, ""):
                args[block_id] = value
        if meta.get("path") == SCORECARD_PATH:
            args = scorecard_args(view, list(meta.get("aspects") or []))
        user = body.get("user") or {}
        path = str(meta.get("path", ""))
        channel_id = str(meta.get("channel_id", ""))
        actor = await self.actor(
            client,
            team_id=str(user.get("team_id") or (body.get("team") or {}).get("id", "")),
            channel_id=channel_id,
            user_id=str(user.get("id", "")),
            fallback_name=str(user.get("name") or user.get("username") or ""),
        )
        sink = submit_progress.set(self._dm_progress(actor.user_id) if path == "submit" else None)
        try:
            reply = await dispatch(self.bot, actor, path, args)
        finally:
            submit_progress.reset(sink)
        await self.send_reply(reply, client=client, channel_id=channel_id, user_id=actor.user_id)

    # --- /submit: progress in one message, and files shared to submit ------------------------

    def _dm_progress(self, user_id: str) -> ProgressMessage:
        """Progress in a DM to the member, posted once and edited in place."""

        async def show(text: str) -> SentMessage:
            return await self.publisher.send_dm(user_id, Message(text=text))

        async def again(sent: SentMessage, text: str) -> None:
            try:
                await self.publisher.edit(sent, Message(text=text))
            except PublishError as exc:  # progress is a courtesy: the verdict still comes
                log.info("could not edit the progress message: %s", exc)

        return ProgressMessage(self.bot.clock, show, again)

    async def _submit_shared_file(
        self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """Submit a file shared with `submit <drill> [device]`; answer in the message's thread."""
        channel_id = str(event.get("channel", ""))
        user_id = str(event.get("user", ""))
        thread_ts = str(event.get("thread_ts") or event.get("ts") or "")
        request = submit_request(str(event.get("text") or ""), list(event.get("files") or []))
        if request is None:
            return
        drill, device = request
        actor = await self.actor(
            client,
            team_id=str(body.get("team_id") or event.get("team", "")),
            channel_id=channel_id,
            user_id=user_id,
        )
        data = await download_shared_file(client, event["files"][0])

        async def show(text: str) -> str:
            posted = await client.chat_postMessage(
                channel=channel_id, thread_ts=thread_ts, text=text
            )
            return str(posted.get("ts", ""))

        async def again(ts: str, text: str) -> None:
            try:
                await client.chat_update(channel=channel_id, ts=ts, text=text)
            except SlackApiError as exc:  # progress is a courtesy: the verdict still comes
                log.info("could not edit the progress message: %s", exc)

        sink = submit_progress.set(ProgressMessage(self.bot.clock, show, again))
        try:
            reply = await dispatch(
                self.bot, actor, "submit", {"drill": drill, "file": data, "device": device}
            )
        finally:
            submit_progress.reset(sink)
        await self.send_reply(
            reply, client=client, channel_id=channel_id, user_id=user_id, thread_ts=thread_ts
        )

    async def on_button(
        self,
        ack: Callable[..., Awaitable[None]],
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Respond,
        client: AsyncWebClient,
    ) -> None:
        """Run the command line a button carries as its value ('/question E3-082')."""
        await ack()
        await self._guarded(
            body, client, respond, self._press_button(body, action, respond, client)
        )

    async def _press_button(
        self,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Respond,
        client: AsyncWebClient,
    ) -> None:
        value = str(action.get("value") or "")
        if not value.startswith(COMMAND_BUTTON_PREFIX):
            return
        path, args = parse_command_line(value)
        user = body.get("user") or {}
        channel_id = str((body.get("channel") or {}).get("id", ""))
        actor = await self.actor(
            client,
            team_id=str(user.get("team_id") or (body.get("team") or {}).get("id", "")),
            channel_id=channel_id,
            user_id=str(user.get("id", "")),
            fallback_name=str(user.get("name") or user.get("username") or ""),
        )
        reply = await dispatch(self.bot, actor, path, args)
        await self.send_reply(
            reply, client=client, channel_id=channel_id, user_id=actor.user_id, respond=respond
        )

    async def on_error(
        self,
        error: Exception,
        body: dict[str, Any],
        client: AsyncWebClient,
        respond: Respond | None = None,
    ) -> None:
        """Show any failure to the member who caused it: the one place errors are rendered.

        Only verified requests get here (the gate refuses the rest before Bolt sees them).
        """
        event = body.get("event") or {}
        user = body.get("user") or {}
        # The log names the command, never what the member wrote after it (an answer, say).
        words = str(body.get("text") or "").split(maxsplit=2)[:2]
        command = " ".join([str(body.get("command") or ""), *words]).strip()
        reply = Reply.text(user_message_for(error, context=clip(command, 60)), tone="error")
        channel_id = str(
            body.get("channel_id")
            or event.get("channel")
            or (body.get("channel") or {}).get("id")
            or _private_metadata(body).get("channel_id", "")
        )
        user_id = str(body.get("user_id") or event.get("user") or user.get("id") or "")
        try:
            await self.send_reply(
                reply,
                client=client,
                channel_id=channel_id,
                user_id=user_id,
                respond=respond if body.get("response_url") else None,
                thread_ts=event.get("thread_ts"),
            )
        except Exception:  # the member cannot be told; the log is all that is left
            log.exception("could not report an error to %s in %s", user_id, channel_id)


class _OneLineRecords(logging.Filter):
    """Keep Bolt's own log lines to one short line: they would otherwise quote request bodies."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage().split("\n", 1)[0]
        record.msg, record.args = clip(message, MAX_REFUSAL_LOG), None
        return True


def build_slack_app(
    bot: StudyBot,
    *,
    publisher_interval_s: float = 1.0,
    deliveries: DeliveryService | None = None,
) -> tuple[AsyncApp, SlackPublisher]:
    """Build the Bolt app and the publisher from the settings; refuse a half-configured face."""
    settings = bot.settings.slack
    if not settings.bot_token:
        raise StudyBotError(
            "SLACK_BOT_TOKEN is not set.", hint="Install the app from slack_manifest.yaml first."
        )
    socket_mode = bool(settings.app_token)
    if not socket_mode and not settings.signing_secret:
        raise StudyBotError(
            "Slack HTTP mode needs SLACK_SIGNING_SECRET to check that requests come from Slack.",
            hint="Set it, or set SLACK_APP_TOKEN (xapp-...) for Socket Mode.",
        )
    base_url = settings.api_base_url or AsyncWebClient.BASE_URL
    bolt_log = logging.getLogger("studybot.slack")
    if not any(isinstance(f, _OneLineRecords) for f in bolt_log.filters):
        bolt_log.addFilter(_OneLineRecords())
    app = AsyncApp(
        client=AsyncWebClient(token=settings.bot_token, base_url=base_url),
        signing_secret=settings.signing_secret or "",
        request_verification_enabled=not socket_mode,
        logger=bolt_log,
    )
    # The publisher retries on its caller's terms (DailyService backs off and checks history
    # first), so slack_sdk's own retries are switched off here.
    publisher = SlackPublisher(
        AsyncWebClient(token=settings.bot_token, base_url=base_url, retry_handlers=[]),
        channel_interval_s=publisher_interval_s,
        clock=bot.clock,
    )
    # The deliveries a face has seen are the face's concern alone; the service keeps them in
    # the database so that every bot process shares them.
    SlackFace(bot, app, publisher, deliveries or DeliveryService(bot.sessions, bot.clock))
    return app, publisher


def signed_web_app(bot: StudyBot, app: AsyncApp) -> tuple[web.Application, SignedRequestGate]:
    """Return the HTTP-mode application: the signature gate in front of the Bolt app."""
    secret = bot.settings.slack.signing_secret
    if not secret:
        raise StudyBotError("Slack HTTP mode needs SLACK_SIGNING_SECRET.")
    gate = SignedRequestGate(app, secret)
    return gate.web_app(), gate


async def run_slack(bot: StudyBot, *, ready: asyncio.Event | None = None) -> None:
    """Serve the Slack face until cancelled: Socket Mode with an app token, else HTTP."""
    from bot.platforms.slack_mock_rooms import SlackRoomHost

    app, publisher = build_slack_app(bot)
    bot.add_publisher("slack", publisher)
    bot.mocks.add_room_host("slack", SlackRoomHost(publisher))
    settings = bot.settings.slack
    try:
        if settings.app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            # Check both tokens once: a wrong token or no network is a start-up failure (one
            # line, exit 2), not a Socket Mode reconnect loop.
            await app.client.auth_test()
            await app.client.apps_connections_open(app_token=settings.app_token)
            handler = AsyncSocketModeHandler(app, settings.app_token)
            await handler.connect_async()  # type: ignore[no-untyped-call]
            log.info("Slack face connected (Socket Mode)")
            if ready is not None:
                ready.set()
            try:
                await asyncio.Event().wait()
            finally:
                await handler.close_async()  # type: ignore[no-untyped-call]
        else:
            application, _ = signed_web_app(bot, app)
            # No access log: one line per refused request is the gate's, and bodies never.
            runner = web.AppRunner(application, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, host="0.0.0.0", port=settings.port).start()
            log.info("Slack face listening on :%d%s (HTTP mode)", settings.port, EVENTS_PATH)
            if ready is not None:
                ready.set()
            try:
                await asyncio.Event().wait()
            finally:
                await runner.cleanup()
    finally:
        await publisher.aclose()
