"""The Discord face: app commands generated from the command catalogue, and the Publisher.

Handlers are thin: an interaction becomes `dispatch(bot, actor, path, args)` and the `Reply` is
rendered by `discord_render`. Commands are registered from `bot.commands.COMMANDS`, one
`app_commands.Group` per catalogue group, so a new catalogue entry appears here unchanged.
Commands are synced with Discord only when asked (`sync_commands`), never at start.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Optional

import aiohttp
import discord
from discord import app_commands

from bot import commands as catalogue
from bot.commands import GROUP_DESCRIPTIONS, Command, Option, dispatch
from bot.drill_commands import check_attachment_size, submit_progress
from bot.errors import StudyBotError, user_message_for
from bot.messages import Channel, Message, Platform, PublishError, Reply, SentMessage
from bot.platforms.discord_render import (
    BUTTON_LABEL_LIMIT,
    DiscordMessage,
    custom_id,
    render_message,
    render_messages,
    thread_name,
)
from bot.platforms.discord_scorecard import SCORECARD_PATH, open_scorecard
from bot.platforms.face_plumbing import (
    clip,
    member_actor,
    missing_text_options,
    option_label,
    retry_after_seconds,
)
from bot.services.context import Actor

if TYPE_CHECKING:
    from bot.app import StudyBot
    from bot.settings import Settings

log = logging.getLogger(__name__)

DESCRIPTION_LIMIT = 100
NONCE_LIMIT = 25
MODAL_TITLE_LIMIT = 45
MODAL_LABEL_LIMIT = 45
MODAL_TEXT_LIMIT = 4000
SUBCOMMANDS_LIMIT = 25
# Discord answers "a thread has already been created for this message" with this code.
THREAD_ALREADY_CREATED = 160004
# A question thread stays open for a week, so late answers do not land in an archived thread.
THREAD_ARCHIVE_MINUTES = 10080
# Short rate limits are waited out by discord.py; longer ones come back as RateLimited so the
# daily service can back off and leave its claim resumable.
MAX_RATELIMIT_WAIT_S = 10.0

_OPTION_TYPES: dict[str, type] = {
    "str": str,
    "int": int,
    "bool": bool,
    "text": str,
    "file": discord.Attachment,
}
_BUTTON_STYLES = {
    "primary": discord.ButtonStyle.primary,
    "secondary": discord.ButtonStyle.secondary,
    "danger": discord.ButtonStyle.danger,
}


def default_intents() -> discord.Intents:
    """Return only the intents the bot needs: guilds, guild messages and message content."""
    intents = discord.Intents.none()
    intents.guilds = True  # channels and threads, to post and to recognise question threads
    intents.guild_messages = True  # replies in question threads arrive as guild messages
    intents.message_content = True  # privileged: a thread reply's text is the answer
    return intents


def nonce_for(idempotency_key: str, index: int = 0) -> str:
    """Derive the Discord nonce (at most 25 characters) of one message of a post part."""
    digest = hashlib.sha256(f"{idempotency_key}#{index}".encode()).hexdigest()
    return digest[:NONCE_LIMIT]


def describe(text: str) -> str:
    """Fit a description into Discord's 1-100 characters."""
    return clip(" ".join(text.split()), DESCRIPTION_LIMIT) or "—"


def actor_for(interaction: discord.Interaction[Any]) -> Actor:
    """Describe who ran an interaction and where; a command in a thread belongs to its channel."""
    channel = interaction.channel
    thread_id: str | None = None
    channel_id = str(interaction.channel_id)
    if isinstance(channel, discord.Thread):
        thread_id = str(channel.id)
        channel_id = str(channel.parent_id)
    perms = interaction.permissions
    return member_actor(
        "discord",
        workspace_id=str(interaction.guild_id) if interaction.guild_id else "dm",
        channel_id=channel_id,
        user_id=str(interaction.user.id),
        display_name=interaction.user.display_name,
        is_workspace_admin=bool(perms.administrator or perms.manage_guild),
        thread_id=thread_id,
    )


def actor_for_message(message: discord.Message) -> Actor | None:
    """Describe the author of a reply in a thread, or None when it is not in a thread."""
    channel = message.channel
    if not isinstance(channel, discord.Thread):
        return None
    author = message.author
    perms = getattr(author, "guild_permissions", None)
    return member_actor(
        "discord",
        workspace_id=str(message.guild.id) if message.guild else "dm",
        channel_id=str(channel.parent_id),
        user_id=str(author.id),
        display_name=author.display_name,
        is_workspace_admin=bool(perms and (perms.administrator or perms.manage_guild)),
        thread_id=str(channel.id),
    )


def button_view(part: DiscordMessage) -> discord.ui.View | None:
    """Return the buttons of a rendered message as a view, if it has any."""
    if not part.buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in part.buttons[:25]:
        label = clip(button.label, BUTTON_LABEL_LIMIT)
        if button.url:
            view.add_item(discord.ui.Button(label=label, url=button.url))
        else:
            view.add_item(
                discord.ui.Button(
                    label=label, custom_id=custom_id(button), style=_BUTTON_STYLES[button.style]
                )
            )
    return view


def send_kwargs(part: DiscordMessage) -> dict[str, Any]:
    """Return the keyword arguments of `send` for one rendered message."""
    kwargs: dict[str, Any] = {"content": part.content, "embeds": part.embeds}
    upload = part.file()
    if upload is not None:
        kwargs["file"] = upload
    view = button_view(part)
    if view is not None:
        kwargs["view"] = view
    return kwargs


async def send_reply(
    interaction: discord.Interaction[Any], reply: Reply, *, deferred_ephemeral: bool = False
) -> None:
    """Answer an interaction with a reply: the first message responds, the rest follow up."""
    parts = render_messages(reply.messages) or [DiscordMessage(content="Done.")]
    if deferred_ephemeral and not reply.ephemeral:
        # The first follow-up replaces the private "thinking" notice, so a public reply goes
        # in the messages after it.
        await interaction.followup.send(content="✅ Posted below.", ephemeral=True)
    for part in parts:
        kwargs = send_kwargs(part)
        if not interaction.response.is_done():
            await interaction.response.send_message(ephemeral=reply.ephemeral, **kwargs)
        else:
            await interaction.followup.send(ephemeral=reply.ephemeral, **kwargs)


def error_reply(error: BaseException, *, context: str = "") -> Reply:
    """Return what a member sees for an error: its message if safe, else an apology with an id."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
        text = "This command is out of date; a server admin should run `studybot discord sync`."
    elif isinstance(error, app_commands.CheckFailure):
        text = str(error) or "You cannot use this command here."
    else:
        text = user_message_for(error, context=context)
    return Reply.text(
        text, tone="warning" if isinstance(error, StudyBotError) else "error", ephemeral=True
    )


async def report_error(
    target: discord.Interaction[Any] | discord.Message,
    error: BaseException,
    *,
    context: str = "",
) -> None:
    """Show an error to the member whose command, click, form or thread reply failed.

    The one place the Discord face renders errors: an interaction is answered privately, a
    thread reply is answered under it.
    """
    reply = error_reply(error, context=context)
    try:
        if isinstance(target, discord.Message):
            for part in render_messages(reply.messages):
                await target.reply(mention_author=False, **send_kwargs(part))
        else:
            await send_reply(target, reply)
    except discord.HTTPException as exc:  # the interaction may have expired meanwhile
        log.warning("could not report an error to the member: %s", exc)


class LongTextModal(discord.ui.Modal):
    """Ask for a command's long text options (an answer) in a paragraph box."""

    def __init__(self, client: StudyBotDiscord, spec: Command, args: dict[str, Any]) -> None:
        super().__init__(title=clip(f"/{spec.path}", MODAL_TITLE_LIMIT))
        self._client = client
        self._spec = spec
        self._args = dict(args)
        self.inputs: dict[str, discord.ui.TextInput[LongTextModal]] = {}
        for opt in spec.options:
            if opt.type != "text" or args.get(opt.name):
                continue
            box: discord.ui.TextInput[LongTextModal] = discord.ui.TextInput(
                label=clip(option_label(opt), MODAL_LABEL_LIMIT),
                placeholder=clip(opt.description, 100) if opt.description else None,
                style=discord.TextStyle.paragraph,
                required=opt.required,
                max_length=MODAL_TEXT_LIMIT,
            )
            self.inputs[opt.name] = box
            self.add_item(box)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        """Run the command with the text typed in the box."""
        args = dict(self._args)
        args.update({name: box.value for name, box in self.inputs.items() if box.value})
        await self._client.run_command(interaction, self._spec.path, args, ask_for_text=False)

    async def on_error(  # type: ignore[override]  # Modal's own signature, not BaseView's
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        """Show the error privately, as the command tree would."""
        await report_error(interaction, error, context=f"/{self._spec.path} (modal)")


def _command_callback(client: StudyBotDiscord, spec: Command) -> Callable[..., Awaitable[None]]:
    """Make the app-command callback of one catalogue command, typed from its options."""

    async def callback(interaction: discord.Interaction[Any], **kwargs: Any) -> None:
        args = {name: value for name, value in kwargs.items() if value is not None}
        for name, value in list(args.items()):
            if isinstance(value, discord.Attachment):  # a submitted file: its bytes
                check_attachment_size(value.size)
                args[name] = await value.read()
        await client.run_command(interaction, spec.path, args)

    params = [
        inspect.Parameter(
            "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
        )
    ]
    # Discord wants required options first; a long text option is optional there because a
    # member who leaves it out gets a modal with a paragraph box instead.
    ordered = sorted(spec.options, key=lambda o: not _required_on_discord(o))
    for opt in ordered:
        kind = _OPTION_TYPES[opt.type]
        params.append(
            inspect.Parameter(
                opt.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=kind if _required_on_discord(opt) else Optional[kind],  # noqa: UP045
                default=inspect.Parameter.empty if _required_on_discord(opt) else None,
            )
        )
    callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_description__ = {  # type: ignore[attr-defined]
        opt.name: describe(opt.description or opt.name) for opt in spec.options
    }
    callback.__name__ = callback.__qualname__ = spec.name
    return callback


def _required_on_discord(opt: Option) -> bool:
    return opt.required and opt.type != "text"


def build_app_commands(
    client: StudyBotDiscord, specs: dict[str, Command] | None = None
) -> list[app_commands.Command[Any, ..., None] | app_commands.Group]:
    """Build the app commands from the catalogue: one group per feature, the rest top level."""
    groups: dict[str, app_commands.Group] = {}
    top: list[app_commands.Command[Any, ..., None] | app_commands.Group] = []
    for spec in (specs if specs is not None else catalogue.COMMANDS).values():
        if spec.handler is None:
            continue
        command: app_commands.Command[Any, ..., None] = app_commands.Command(
            name=spec.name,
            description=describe(spec.description),
            callback=_command_callback(client, spec),  # type: ignore[arg-type]
        )
        if spec.group is None:
            top.append(command)
            continue
        group = groups.get(spec.group)
        if group is None:
            group = app_commands.Group(
                name=spec.group,
                description=describe(
                    GROUP_DESCRIPTIONS.get(spec.group) or f"{spec.group.title()} commands"
                ),
            )
            groups[spec.group] = group
            top.append(group)
        if len(group.commands) >= SUBCOMMANDS_LIMIT:
            raise ValueError(f"/{spec.group} has more than {SUBCOMMANDS_LIMIT} subcommands")
        group.add_command(command)
    return top


class StudyBotDiscord(discord.Client):
    """The Discord client: the command tree, thread replies, button clicks and the publisher."""

    def __init__(
        self,
        bot: StudyBot | None,
        *,
        intents: discord.Intents | None = None,
        application_id: int | None = None,
        **options: Any,
    ) -> None:
        options.setdefault("max_ratelimit_timeout", MAX_RATELIMIT_WAIT_S)
        if application_id is not None:
            options["application_id"] = application_id
        super().__init__(intents=intents or default_intents(), **options)
        self.bot = bot
        self.tree: app_commands.CommandTree[StudyBotDiscord] = app_commands.CommandTree(self)
        self.tree.error(self.on_tree_error)
        for command in build_app_commands(self):
            self.tree.add_command(command)
        self.publisher = DiscordPublisher(self)

    def _require_bot(self) -> StudyBot:
        if self.bot is None:
            raise StudyBotError("StudyBot is starting; try again in a moment.")
        return self.bot

    async def run_command(
        self,
        interaction: discord.Interaction[Any],
        path: str,
        args: dict[str, Any],
        *,
        ask_for_text: bool = True,
    ) -> None:
        """Run a catalogue command for an interaction: defer first when slow, then answer."""
        spec = catalogue.COMMANDS[path]
        if path == SCORECARD_PATH and not args:  # select menus on the guide's scale
            await open_scorecard(self, interaction)
            return
        if missing_text_options(spec, args) and ask_for_text:
            await interaction.response.send_modal(LongTextModal(self, spec, args))
            return
        bot = self._require_bot()
        deferred = False
        if spec.slow and not interaction.response.is_done():
            # Discord wants a first response within 3 s; grading or judging can take longer.
            await interaction.response.defer(ephemeral=True, thinking=True)
            deferred = True
        # A waiting submission's queue position and progress, edited into the deferred reply.
        progress = submit_progress.set(
            (lambda line: interaction.edit_original_response(content=line)) if deferred else None
        )
        try:
            reply = await dispatch(bot, actor_for(interaction), path, args)
        finally:
            submit_progress.reset(progress)
        await send_reply(interaction, reply, deferred_ephemeral=deferred)

    async def on_tree_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        """Render StudyBotError as it is; apologise with an error id for anything else."""
        name = interaction.command.qualified_name if interaction.command else "?"
        await report_error(interaction, error, context=f"/{name}")

    async def on_message(self, message: discord.Message) -> None:
        """Treat a member's reply in one of the bot's question threads as an answer."""
        if message.author.bot or self.user is None:
            return
        channel = message.channel
        if not isinstance(channel, discord.Thread) or channel.owner_id != self.user.id:
            return
        hook = getattr(catalogue, "thread_reply", None)
        actor = actor_for_message(message)
        if hook is None or actor is None or self.bot is None:
            return
        try:
            async with channel.typing():
                reply = await hook(self.bot, actor, message.content)
        except Exception as exc:
            await report_error(message, exc, context=f"thread {channel.id}")
            return
        if reply is None:
            return
        await self.deliver_thread_reply(message, reply)

    async def deliver_thread_reply(self, message: discord.Message, reply: Reply) -> None:
        """Answer a thread reply: privately by DM when the reply is ephemeral, else in thread."""
        parts = render_messages(reply.messages)
        if reply.ephemeral:
            try:
                for part in parts:
                    await message.author.send(**send_kwargs(part))
                return
            except discord.Forbidden:
                await message.reply(
                    "I could not DM you your feedback: allow direct messages from server "
                    "members, or use /answer to get it privately.",
                    mention_author=False,
                )
                return
        for part in parts:
            await message.reply(mention_author=False, **send_kwargs(part))

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """Route a button click whose action names a catalogue command."""
        if interaction.type is not discord.InteractionType.component:
            return
        data: dict[str, Any] = dict(interaction.data or {})
        cid = str(data.get("custom_id", ""))
        if not cid.startswith("studybot:"):
            return
        _, action, value = cid.split(":", 2)
        if action == "command" and value.startswith("/"):
            # A button carrying a whole command line ('/leaderboard week points page=2').
            try:
                action, args = catalogue.parse_command_line(value)
                await self.run_command(interaction, action, args)
            except Exception as exc:
                await report_error(interaction, exc, context=f"button {cid}")
            return
        spec = catalogue.COMMANDS.get(action)
        try:
            if spec is None:
                raise StudyBotError("This button no longer does anything.")
            args = {spec.options[0].name: value} if value and spec.options else {}
            await self.run_command(interaction, action, args)
        except Exception as exc:
            await report_error(interaction, exc, context=f"button {cid}")


class DiscordPublisher:
    """The Publisher port on Discord: posts, threads, DMs and edits, with idempotent sends.

    Each message goes out with a nonce derived from the post part's idempotency key, and
    discord.py sets `enforce_nonce` whenever a nonce is given, so Discord returns the message
    it already created for a repeated send instead of posting it twice.
    """

    platform: Platform = "discord"

    def __init__(self, client: discord.Client) -> None:
        self._client = client
        self._sent: dict[str, SentMessage] = {}
        self._dms: dict[tuple[str, str], SentMessage] = {}  # (user, key) -> DM
        self._threadless: dict[str, int] = {}

    def _messageable(self, channel_id: str) -> discord.abc.Messageable:
        found = self._client.get_channel(int(channel_id))
        if isinstance(found, discord.abc.Messageable):
            return found
        return self._client.get_partial_messageable(int(channel_id))

    async def _send_all(
        self, target: discord.abc.Messageable, message: Message, key: str | None
    ) -> list[discord.Message]:
        sent: list[discord.Message] = []
        for index, part in enumerate(render_message(message)):
            kwargs = send_kwargs(part)
            if key is not None:
                kwargs["nonce"] = nonce_for(key, index)
            sent.append(await target.send(**kwargs))
        assert sent  # render_message always yields at least one message
        return sent

    async def post(
        self, channel: Channel, message: Message, *, idempotency_key: str
    ) -> SentMessage:
        """Post a message (opening its thread if it starts one); a repeated key posts nothing."""
        if idempotency_key in self._sent:
            return self._sent[idempotency_key]
        async with publish_errors(f"posting to channel {channel.channel_id}"):
            target = self._messageable(channel.channel_id)
            starter_id = self._threadless.get(idempotency_key)
            parts: tuple[str, ...] = ()
            if starter_id is None:
                messages = await self._send_all(target, message, idempotency_key)
                starter_id, parts = messages[0].id, tuple(str(m.id) for m in messages)
            thread_id: str | None = None
            if message.thread_starter:
                self._threadless[idempotency_key] = starter_id
                await self._open_thread(target, starter_id, thread_name(message))
                self._threadless.pop(idempotency_key, None)
                thread_id = str(starter_id)  # a thread made from a message shares its id
        sent = SentMessage(str(starter_id), channel.channel_id, thread_id, parts=parts)
        self._sent[idempotency_key] = sent
        return sent

    async def _open_thread(
        self, target: discord.abc.Messageable, message_id: int, name: str
    ) -> None:
        starter = target.get_partial_message(message_id)  # type: ignore[attr-defined]
        try:
            await starter.create_thread(name=name, auto_archive_duration=THREAD_ARCHIVE_MINUTES)
        except discord.HTTPException as exc:
            if exc.code != THREAD_ALREADY_CREATED:
                raise

    async def find_posted(self, channel: Channel, idempotency_key: str) -> SentMessage | None:
        """Find a message already posted with this key (this process, or the message cache)."""
        if idempotency_key in self._sent:
            return self._sent[idempotency_key]
        nonce = nonce_for(idempotency_key)
        me = self._client.user
        for cached in self._client.cached_messages:  # the first copy, should there be two
            if (
                me is not None
                and cached.author.id == me.id
                and str(cached.channel.id) == channel.channel_id
                and str(cached.nonce) == nonce
            ):
                thread = cached.thread
                return SentMessage(
                    str(cached.id), channel.channel_id, str(thread.id) if thread else None
                )
        return None

    async def reply_in_thread(
        self, channel: Channel, thread_id: str, message: Message
    ) -> SentMessage:
        """Post a message under a thread."""
        async with publish_errors(f"replying in thread {thread_id}"):
            [first, *_] = await self._send_all(self._messageable(thread_id), message, None)
        return SentMessage(str(first.id), channel.channel_id, thread_id)

    async def send_dm(
        self, user_id: str, message: Message, *, idempotency_key: str | None = None
    ) -> SentMessage:
        """Send a private message to one member; a keyed one goes out with its nonce.

        Discord enforces the nonce for a few minutes, so a keyed DM sent again soon after a
        crash returns the message already made instead of sending a second one.
        """
        memo = (user_id, idempotency_key) if idempotency_key is not None else None
        if memo is not None and memo in self._dms:
            return self._dms[memo]
        async with publish_errors(f"sending a DM to {user_id}"):
            user = self._client.get_user(int(user_id)) or await self._client.fetch_user(
                int(user_id)
            )
            [first, *_] = await self._send_all(user, message, idempotency_key)
        sent = SentMessage(str(first.id), str(first.channel.id))
        if memo is not None:
            self._dms[memo] = sent
        return sent

    async def find_dm(self, user_id: str, idempotency_key: str) -> SentMessage | None:
        """Find a DM already sent with this key (this process, or the message cache)."""
        memo = (user_id, idempotency_key)
        if memo in self._dms:
            return self._dms[memo]
        nonce = nonce_for(idempotency_key)
        me = self._client.user
        for cached in reversed(self._client.cached_messages):
            recipient = getattr(cached.channel, "recipient", None)
            if (
                me is not None
                and cached.author.id == me.id
                and isinstance(cached.channel, discord.DMChannel)
                and recipient is not None
                and str(recipient.id) == user_id
                and str(cached.nonce) == nonce
            ):
                return SentMessage(str(cached.id), str(cached.channel.id))
        return None

    async def edit(self, sent: SentMessage, message: Message) -> None:
        """Replace a message the bot posted (a message too long for one is cut to the first)."""
        parts = render_message(message)
        if len(parts) > 1:
            log.warning("edit of %s needs %d messages; keeping the first", sent, len(parts))
        async with publish_errors(f"editing message {sent.message_id}"):
            target = self._messageable(sent.channel_id)
            partial = target.get_partial_message(int(sent.message_id))  # type: ignore[attr-defined]
            await partial.edit(content=parts[0].content, embeds=parts[0].embeds)

    async def withdraw(self, sent: SentMessage) -> None:
        """Delete a post the bot made, every message of it; one already gone is no error."""
        async with publish_errors(f"deleting message {sent.message_id}"):
            target = self._messageable(sent.channel_id)
            for message_id in sent.parts or (sent.message_id,):
                partial = target.get_partial_message(int(message_id))  # type: ignore[attr-defined]
                try:
                    await partial.delete()
                except discord.NotFound:
                    pass
        self._sent = {k: v for k, v in self._sent.items() if v.message_id != sent.message_id}


def publish_error(exc: BaseException, action: str) -> Exception:
    """Map a Discord failure to PublishError: rate limits, 5xx and timeouts are transient."""
    if isinstance(exc, discord.RateLimited):
        return PublishError(f"{action}: rate limited", transient=True, retry_after=exc.retry_after)
    if isinstance(exc, discord.HTTPException):
        detail = f"{action}: {exc.status} {exc.text or exc.response.reason}"
        if exc.status == 429:
            return PublishError(detail, transient=True, retry_after=_retry_after(exc))
        if exc.status >= 500:
            return PublishError(detail, transient=True)
        if isinstance(exc, discord.Forbidden):
            detail = f"{action}: I lack permission there (403 {exc.text or 'Forbidden'})"
        elif isinstance(exc, discord.NotFound):
            detail = f"{action}: the channel or message is gone (404 {exc.text or 'Not Found'})"
        return PublishError(detail, transient=False)
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ClientError | OSError):
        return PublishError(f"{action}: {type(exc).__name__} {exc}", transient=True)
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


def _retry_after(exc: discord.HTTPException) -> float | None:
    return retry_after_seconds(getattr(exc.response, "headers", None), default=None)


@asynccontextmanager
async def publish_errors(action: str) -> AsyncIterator[None]:
    """Turn Discord and network failures inside the block into PublishError."""
    try:
        yield
    except PublishError:
        raise
    except (TimeoutError, discord.DiscordException, aiohttp.ClientError, OSError) as exc:
        raise publish_error(exc, action) from exc


def _use_api_base(settings: Settings) -> None:
    # Only a local Discord API stand-in in tests sets this; discord.py reads the class attribute.
    if settings.discord.api_base_url:
        discord.http.Route.BASE = settings.discord.api_base_url.rstrip("/")


def _token(settings: Settings) -> str:
    token = settings.discord.token
    if not token:
        raise StudyBotError(
            "DISCORD_TOKEN is not set.", hint="Put the bot token in .env or the environment."
        )
    return token


async def sync_commands(settings: Settings, guild_id: int | None) -> list[str]:
    """Register the command tree with Discord (one guild at once, or globally); return names."""
    token = _token(settings)
    _use_api_base(settings)
    client = StudyBotDiscord(None, application_id=settings.discord.application_id)
    async with client:
        await client.login(token)
        if guild_id is not None:
            guild = discord.Object(id=guild_id)
            client.tree.copy_global_to(guild=guild)
            synced = await client.tree.sync(guild=guild)
        else:
            synced = await client.tree.sync()
    return [command.name for command in synced]


async def run_discord(bot: StudyBot) -> None:
    """Connect to Discord and serve commands and thread replies until stopped."""
    token = _token(bot.settings)
    _use_api_base(bot.settings)
    from bot.platforms.discord_mock_rooms import DiscordRoomHost

    client = StudyBotDiscord(bot, application_id=bot.settings.discord.application_id)
    bot.add_publisher("discord", client.publisher)
    bot.mocks.add_room_host("discord", DiscordRoomHost(client))
    from bot.platforms.discord_scorecard import register_scorecard_items

    register_scorecard_items(client)  # scorecard menus sent before a restart still answer
    async with client:
        await client.start(token)
