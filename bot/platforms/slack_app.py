"""The Slack face: one `/study` slash command, thread replies, a modal, and the Publisher.

Socket Mode when SLACK_APP_TOKEN is set, HTTP mode (signed requests on /slack/events)
otherwise. Every handler acknowledges at once and does the work afterwards: Bolt runs a
listener as a background task and answers Slack as soon as `ack()` is called. Failures are
rendered in one place, `SlackFace.on_error`, which is also the app's `@app.error` handler.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot import commands as catalogue
from bot.commands import COMMANDS, Command, dispatch
from bot.errors import StudyBotError, user_message_for
from bot.messages import Channel, Message, Platform, PublishError, Reply, SentMessage
from bot.platforms.console import parse_command_line
from bot.platforms.slack_render import clip, render_message, render_reply
from bot.services.context import Actor

if TYPE_CHECKING:
    from bot.app import StudyBot

log = logging.getLogger(__name__)

SLASH_COMMAND = "/study"
EVENTS_PATH = "/slack/events"
POST_EVENT_TYPE = "studybot_post"
MODAL_CALLBACK_ID = "studybot_command"
COMMAND_BUTTON_PREFIX = "/"

# Every Web API method the face calls, with the bot scopes it needs (checked against the
# manifest by the tests, so a new call cannot ship without its scope).
REQUIRED_SCOPES: dict[str, tuple[str, ...]] = {
    "auth.test": (),
    "chat.postMessage": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.update": ("chat:write",),
    "conversations.history": ("channels:history", "groups:history"),
    "conversations.open": ("im:write",),
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
        retry_after: float | None = None
        headers = getattr(response, "headers", None) or {}
        raw = headers.get("Retry-After") or headers.get("retry-after")
        try:
            retry_after = max(0.0, float(raw)) if raw is not None else 1.0
        except ValueError:
            retry_after = 1.0
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
    channel), so a fan-out waits its turn instead of collecting 429s.
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
    ) -> None:
        self._client = client
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
        now = time.monotonic()
        slot = max(now, self._next_slot.get(channel_id, now))
        self._next_slot[channel_id] = slot + self.channel_interval_s
        if slot > now:
            await asyncio.sleep(slot - now)

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
                after = time.monotonic() + self.channel_interval_s
                self._next_slot[channel_id] = max(self._next_slot.get(channel_id, 0.0), after)

    async def post(
        self, channel: Channel, message: Message, *, idempotency_key: str
    ) -> SentMessage:
        """Post a message (in several Slack messages when it is too long), tagged with its key."""
        payloads = render_message(message)
        done = self._partial.setdefault(idempotency_key, {})
        for index, payload in enumerate(payloads):
            if index in done:
                continue
            response = await self._post_payload(
                channel.channel_id,
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
        first = done[0]
        return SentMessage(first, channel.channel_id, first if message.thread_starter else None)

    async def find_posted(self, channel: Channel, idempotency_key: str) -> SentMessage | None:
        """Look for a post with this key in the channel's recent history (message metadata)."""
        found: dict[int, str] = {}
        chunks = 1
        thread = False
        cursor: str | None = None
        for _ in range(self.history_pages):
            response = await self._call(
                self._client.conversations_history,
                channel=channel.channel_id,
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
        first = found[0]
        return SentMessage(first, channel.channel_id, first if thread else None)

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

    async def send_dm(self, user_id: str, message: Message) -> SentMessage:
        """Open (or reuse) the direct conversation with a member and post there."""
        opened = await self._call(self._client.conversations_open, users=user_id)
        dm_channel = str((opened.get("channel") or {})["id"])
        first: str | None = None
        for payload in render_message(message):
            response = await self._post_payload(dm_channel, payload)
            first = first or str(response["ts"])
        assert first is not None
        return SentMessage(first, dm_channel)

    async def edit(self, sent: SentMessage, message: Message) -> None:
        """Replace a posted message; a message that grew past one Slack message is clipped."""
        payloads = render_message(message)
        if len(payloads) > 1:
            log.warning("edit of %s needs %d messages; keeping the first", sent, len(payloads))
        payload = {k: v for k, v in payloads[0].items() if k in ("text", "blocks")}
        await self._call(
            self._client.chat_update, channel=sent.channel_id, ts=sent.message_id, **payload
        )


# --- the face ------------------------------------------------------------------------------


Respond = Callable[..., Awaitable[Any]]


def missing_text_options(spec: Command, args: Mapping[str, Any]) -> list[str]:
    """Return the required free-text options a command line left out (asked for in a modal)."""
    return [o.name for o in spec.options if o.required and o.type == "text" and o.name not in args]


def command_modal(spec: Command, args: Mapping[str, Any], channel_id: str) -> dict[str, Any]:
    """Build the modal that asks for a command's options the slash command did not give."""
    blocks: list[dict[str, Any]] = []
    for opt in spec.options:
        if opt.name in args:
            continue
        blocks.append(
            {
                "type": "input",
                "block_id": opt.name,
                "optional": not opt.required,
                "label": {"type": "plain_text", "text": clip(opt.name.replace("_", " "), 2000)},
                "hint": {"type": "plain_text", "text": clip(opt.description, 2000)},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": opt.type == "text",
                },
            }
        )
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK_ID,
        "title": {"type": "plain_text", "text": clip(f"/{spec.path}", 24)},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps(
            {"path": spec.path, "channel_id": channel_id, "args": dict(args)}
        ),
        "blocks": blocks,
    }


class SlackFace:
    """Turns Slack requests into `dispatch` calls and renders what comes back."""

    def __init__(
        self, bot: StudyBot, app: AsyncApp, publisher: SlackPublisher, *, admin_ttl_s: float = 300
    ) -> None:
        self.bot = bot
        self.app = app
        self.publisher = publisher
        self._admin_ttl_s = admin_ttl_s
        self._admins: dict[tuple[str, str], tuple[float, bool]] = {}
        app.command(SLASH_COMMAND)(self.on_command)
        app.event("message")(self.on_message)
        app.view(MODAL_CALLBACK_ID)(self.on_modal_submit)
        app.action(re.compile(".+"))(self.on_button)
        app.error(self.on_error)

    async def is_workspace_admin(self, client: AsyncWebClient, team_id: str, user_id: str) -> bool:
        """Tell whether a member is a workspace admin or owner (users.info, cached briefly)."""
        cached = self._admins.get((team_id, user_id))
        now = time.monotonic()
        if cached and now - cached[0] < self._admin_ttl_s:
            return cached[1]
        info = await client.users_info(user=user_id)
        user = info.get("user") or {}
        admin = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        self._admins[(team_id, user_id)] = (now, admin)
        return admin

    async def actor(
        self,
        client: AsyncWebClient,
        *,
        team_id: str,
        channel_id: str,
        user_id: str,
        display_name: str = "",
        check_admin: bool = False,
        thread_id: str | None = None,
    ) -> Actor:
        """Describe the member behind a request; ask Slack about admin rights only when needed."""
        admin = check_admin and await self.is_workspace_admin(client, team_id, user_id)
        return Actor(
            platform="slack",
            workspace_id=team_id,
            channel_id=channel_id,
            user_id=user_id,
            display_name=display_name or user_id,
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
        """Show a reply: through the response_url when there is one, else by posting."""
        payloads = render_reply(reply)
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

    async def on_command(
        self,
        ack: Callable[..., Awaitable[None]],
        body: dict[str, Any],
        command: dict[str, Any],
        respond: Respond,
        client: AsyncWebClient,
    ) -> None:
        """Handle `/study <subcommand> [args]`: ack at once, then run it and respond."""
        text = str(command.get("text") or "").strip() or "help"
        try:
            path, args = parse_command_line(text)
        except StudyBotError as exc:
            await ack()
            await self.on_error(exc, body, client, respond)
            return
        spec = COMMANDS.get(path)
        if spec is not None and spec.slow:
            await ack(text=f":hourglass_flowing_sand: Working on /{spec.path}…")
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

    async def _run_command(
        self,
        path: str,
        args: dict[str, Any],
        command: dict[str, Any],
        respond: Respond,
        client: AsyncWebClient,
    ) -> None:
        spec = COMMANDS.get(path)
        channel_id = str(command.get("channel_id", ""))
        user_id = str(command.get("user_id", ""))
        if spec is not None and missing_text_options(spec, args) and command.get("trigger_id"):
            await client.views_open(
                trigger_id=command["trigger_id"], view=command_modal(spec, args, channel_id)
            )
            return
        actor = await self.actor(
            client,
            team_id=str(command.get("team_id", "")),
            channel_id=channel_id,
            user_id=user_id,
            display_name=str(command.get("user_name", "")),
            check_admin=bool(spec and spec.admin),
        )
        reply = await dispatch(self.bot, actor, path, args)
        await self.send_reply(
            reply, client=client, channel_id=channel_id, user_id=user_id, respond=respond
        )

    async def on_message(
        self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """Treat a member's reply in a question's thread as an answer."""
        if event.get("bot_id") or event.get("subtype") not in _THREAD_SUBTYPES:
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
        meta = json.loads(view.get("private_metadata") or "{}")
        args: dict[str, Any] = dict(meta.get("args") or {})
        for block_id, inputs in (view.get("state") or {}).get("values", {}).items():
            value = (inputs.get("value") or {}).get("value")
            if value not in (None, ""):
                args[block_id] = value
        user = body.get("user") or {}
        path = str(meta.get("path", ""))
        spec = COMMANDS.get(path)
        channel_id = str(meta.get("channel_id", ""))
        actor = await self.actor(
            client,
            team_id=str(user.get("team_id") or (body.get("team") or {}).get("id", "")),
            channel_id=channel_id,
            user_id=str(user.get("id", "")),
            display_name=str(user.get("name") or user.get("username") or ""),
            check_admin=bool(spec and spec.admin),
        )
        reply = await dispatch(self.bot, actor, path, args)
        await self.send_reply(reply, client=client, channel_id=channel_id, user_id=actor.user_id)

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
        spec = COMMANDS.get(path)
        user = body.get("user") or {}
        channel_id = str((body.get("channel") or {}).get("id", ""))
        actor = await self.actor(
            client,
            team_id=str(user.get("team_id") or (body.get("team") or {}).get("id", "")),
            channel_id=channel_id,
            user_id=str(user.get("id", "")),
            display_name=str(user.get("name") or user.get("username") or ""),
            check_admin=bool(spec and spec.admin),
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
        """Show any failure to the member who caused it: the one place errors are rendered."""
        event = body.get("event") or {}
        user = body.get("user") or {}
        context = str(body.get("command", "")) + " " + str(body.get("text", ""))
        reply = Reply.text(user_message_for(error, context=context.strip()), tone="error")
        channel_id = str(
            body.get("channel_id")
            or event.get("channel")
            or (body.get("channel") or {}).get("id")
            or json.loads((body.get("view") or {}).get("private_metadata") or "{}").get(
                "channel_id", ""
            )
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


def build_slack_app(
    bot: StudyBot, *, publisher_interval_s: float = 1.0
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
    app = AsyncApp(
        client=AsyncWebClient(token=settings.bot_token, base_url=base_url),
        signing_secret=settings.signing_secret or "",
        request_verification_enabled=not socket_mode,
        logger=logging.getLogger("studybot.slack"),
    )
    # The publisher retries on its caller's terms (DailyService backs off and checks history
    # first), so slack_sdk's own retries are switched off here.
    publisher = SlackPublisher(
        AsyncWebClient(token=settings.bot_token, base_url=base_url, retry_handlers=[]),
        channel_interval_s=publisher_interval_s,
    )
    SlackFace(bot, app, publisher)
    return app, publisher


async def run_slack(bot: StudyBot, *, ready: asyncio.Event | None = None) -> None:
    """Serve the Slack face until cancelled: Socket Mode with an app token, else HTTP."""
    app, publisher = build_slack_app(bot)
    bot.add_publisher("slack", publisher)
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
            from aiohttp import web

            runner = web.AppRunner(app.web_app(path=EVENTS_PATH, port=settings.port))
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
