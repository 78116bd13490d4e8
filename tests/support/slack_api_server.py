"""A local stand-in for the Slack Web API on 127.0.0.1, for tests and the fan-out bench.

It keeps channels, messages (with their metadata) and threads in memory, records every call,
and can misbehave on purpose: answer `ratelimited` (HTTP 429 with Retry-After), hold each
channel to N messages per second as Slack does for chat.postMessage, fail the Nth call of a
method (optionally after storing the message, as when the response is lost on the way back),
and refuse channels that are gone, archived or that the bot is not in.

Run it alone (the bench does, so its CPU time is not counted as the bot's):
    python -m tests.support.slack_api_server --port 0 --channel-interval 1
prints `READY http://127.0.0.1:PORT/api/` and serves until killed; GET /_mock/stats reports.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER_ID = "UBOTUSER1"
BOT_ID = "BBOTID001"


@dataclass
class RecordedCall:
    """One request the server received."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float
    status: int = 200
    error: str | None = None


@dataclass
class _Fault:
    method: str | None
    remaining: int
    status: int
    error: str
    retry_after: float | None = None
    nth: int | None = None
    after_accept: bool = False
    delay_s: float = 0.0


@dataclass
class MockSlackApi:
    """The mock server; `await start()` returns the base URL to hand to AsyncWebClient."""

    token: str = "xoxb-test-token"
    team_id: str = "T0TEAM001"
    admins: set[str] = field(default_factory=set)
    owners: set[str] = field(default_factory=set)
    channel_interval_s: float | None = None  # e.g. 1.0: one chat.postMessage a second a channel
    integer_retry_after: bool = True  # Slack sends whole seconds
    calls: list[RecordedCall] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    threads: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    # messages the bot deleted (chat.delete), with the channel they were in
    deleted: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    views: list[dict[str, Any]] = field(default_factory=list)
    missing_channels: set[str] = field(default_factory=set)
    archived_channels: set[str] = field(default_factory=set)
    not_member_channels: set[str] = field(default_factory=set)
    rate_limited: int = 0
    channel_names: dict[str, str] = field(default_factory=dict)
    display_names: dict[str, str] = field(default_factory=dict)
    private_channels: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> info
    now: Callable[[], float] = time.monotonic  # what `RecordedCall.at` and pacing count in
    # file id -> {"filename", "length", "alt_txt", "data" (bytes once uploaded), "channel"}
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._changed = asyncio.Condition()
        self._faults: list[_Fault] = []
        self._method_counts: Counter[str] = Counter()
        self._last_post: dict[str, float] = {}
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- control -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Return the Web API base URL (ends with /api/)."""
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str = "r1") -> str:
        """Return a response_url for a slash command payload that lands on this server."""
        return f"http://127.0.0.1:{self.port}/respond/{name}"

    def rate_limit(
        self,
        times: int,
        *,
        retry_after: float = 1,
        method: str | None = None,
        from_call: int | None = None,
    ) -> None:
        """Answer `times` calls with 429 ratelimited: the next ones, or from the Nth of `method`."""
        self._faults.append(_Fault(method, times, 429, "ratelimited", retry_after, nth=from_call))

    def fail(
        self,
        *,
        method: str | None = None,
        times: int = 1,
        status: int = 200,
        error: str = "internal_error",
        nth: int | None = None,
        after_accept: bool = False,
    ) -> None:
        """Fail `times` calls: the next ones, or from the `nth` call of `method` (1-based).

        `after_accept` stores the message first and then fails, as when Slack accepted it but
        the answer never reached the bot.
        """
        self._faults.append(
            _Fault(method, times, status, error, nth=nth, after_accept=after_accept)
        )

    def slow(self, seconds: float, *, method: str | None = None, times: int = 1) -> None:
        """Hold the next `times` calls (of `method`, or any) for `seconds`, then answer them."""
        self._faults.append(_Fault(method, times, 200, "", delay_s=seconds))

    async def wait_for(self, check: Callable[[], Any], *, give_up_after: float = 10.0) -> Any:
        """Wait until `check()` is truthy, re-checking whenever a call arrives; return its value.

        The timeout only ends a test that would otherwise hang; nothing waits on it to pass.
        """

        async def until() -> Any:
            async with self._changed:
                while not (value := check()):
                    await self._changed.wait()
                return value

        return await asyncio.wait_for(until(), give_up_after)

    async def _record(self, call: RecordedCall) -> None:
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def calls_to(self, method: str) -> list[RecordedCall]:
        """Return the recorded calls of one API method, in order."""
        return [c for c in self.calls if c.method == method]

    def posted(self, channel: str) -> list[dict[str, Any]]:
        """Return the top-level messages of a channel, oldest first."""
        return list(self.messages.get(channel, []))

    def stats(self) -> dict[str, Any]:
        """Summarise what the server saw."""
        return {
            "calls": dict(Counter(c.method for c in self.calls)),
            "rate_limited": self.rate_limited,
            "messages": sum(len(v) for v in self.messages.values()),
            "channels": len(self.messages),
            "max_per_channel": max((len(v) for v in self.messages.values()), default=0),
            "min_per_channel": min((len(v) for v in self.messages.values()), default=0),
        }

    # --- server --------------------------------------------------------------------------

    def web_app(self) -> web.Application:
        """Build the aiohttp application."""
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{name}", self._respond)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/_mock/stats", self._stats)
        return app

    async def start(self, port: int = 0) -> str:
        """Listen on 127.0.0.1 (a free port by default) and return the base URL."""
        self._runner = web.AppRunner(self.web_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.base_url

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> MockSlackApi:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- handlers ------------------------------------------------------------------------

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.responses.append({"name": request.match_info["name"], **body})
        await self._record(RecordedCall("response_url", body, dict(request.headers), self.now()))
        return web.Response(text="ok")

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(dict(await request.post()))
        for name in ("blocks", "metadata", "view", "attachments"):
            if isinstance(params.get(name), str):
                params[name] = json.loads(params[name])
        return params

    def _fault_for(self, method: str, count: int) -> _Fault | None:
        for fault in self._faults:
            if fault.method not in (None, method) or fault.remaining <= 0:
                continue
            # counted faults start at the Nth call of their method (the Nth call of any
            # method is not meaningful, so they count the method they name)
            if fault.nth is not None and count < fault.nth:
                continue
            fault.remaining -= 1
            return fault
        return None

    def _answer(
        self, call: RecordedCall, body: dict[str, Any], *, status: int = 200, headers: Any = None
    ) -> web.Response:
        call.status = status
        call.error = None if body.get("ok") else str(body.get("error"))
        return web.json_response(body, status=status, headers=headers)

    def _retry_after(self, seconds: float) -> str:
        if self.integer_retry_after:
            return str(max(1, math.ceil(seconds)))
        return f"{max(seconds, 0.001):.3f}"

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        call = RecordedCall(method, params, dict(request.headers), self.now())
        self.calls.append(call)
        self._method_counts[method] += 1
        try:
            return await self._api_answer(request, method, params, call)
        finally:
            await self._notify()

    async def _api_answer(
        self, request: web.Request, method: str, params: dict[str, Any], call: RecordedCall
    ) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if auth != f"Bearer {self.token}" and params.get("token") != self.token:
            return self._answer(call, {"ok": False, "error": "invalid_auth"})
        fault = self._fault_for(method, self._method_counts[method])
        if fault is not None and fault.delay_s:
            await asyncio.sleep(fault.delay_s)
            fault = None
        if fault is not None and not fault.after_accept:
            if fault.status == 429:
                self.rate_limited += 1
                return self._answer(
                    call,
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": self._retry_after(fault.retry_after or 1)},
                )
            return self._answer(call, {"ok": False, "error": fault.error}, status=fault.status)
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return self._answer(call, {"ok": False, "error": "unknown_method"}, status=404)
        answer: web.Response = await handler(call, params)
        if fault is not None and fault.after_accept and call.status == 200 and call.error is None:
            return self._answer(call, {"ok": False, "error": fault.error}, status=fault.status)
        return answer

    def _channel_error(self, channel: str) -> str | None:
        if not channel or channel in self.missing_channels:
            return "channel_not_found"
        if channel in self.archived_channels:
            return "is_archived"
        if channel in self.not_member_channels:
            return "not_in_channel"
        return None

    def _next_ts(self) -> str:
        return f"{1_700_000_000 + next(self._ts)}.000100"

    # --- file uploads (files_upload_v2: get a URL, upload the bytes, complete) ---------------

    async def _m_files_getUploadURLExternal(
        self, call: RecordedCall, params: dict[str, Any]
    ) -> web.Response:
        file_id = f"F{next(self._ts):08d}"
        self.files[file_id] = {
            "filename": params.get("filename"),
            "length": int(params.get("length", 0)),
            "alt_txt": params.get("alt_txt"),
            "data": None,
            "channel": None,
        }
        url = f"http://127.0.0.1:{self.port}/upload/{file_id}"
        return self._answer(call, {"ok": True, "upload_url": url, "file_id": file_id})

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self.files:
            return web.Response(status=404, text="no such upload")
        data = await request.read()
        self.files[file_id]["data"] = data
        return web.Response(text=f"OK - {len(data)}")

    async def _m_files_completeUploadExternal(
        self, call: RecordedCall, params: dict[str, Any]
    ) -> web.Response:
        files = params.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        channel = str(params.get("channel_id") or params.get("channels") or "")
        error = self._channel_error(channel) if channel else None
        if error:
            return self._answer(call, {"ok": False, "error": error})
        done = []
        for item in files or []:
            stored = self.files.get(str(item.get("id")))
            if stored is None or stored["data"] is None:
                return self._answer(call, {"ok": False, "error": "file_not_found"})
            stored["channel"] = channel or None
            stored["title"] = item.get("title")
            stored["thread_ts"] = params.get("thread_ts")
            done.append({"id": item.get("id"), "title": item.get("title")})
        return self._answer(call, {"ok": True, "files": done})

    async def _m_files_delete(self, call: RecordedCall, params: dict[str, Any]) -> web.Response:
        stored = self.files.pop(str(params.get("file", "")), None)
        if stored is None:
            return self._answer(call, {"ok": False, "error": "file_not_found"})
        self.deleted.append({"file": params.get("file"), **stored})
        return self._answer(call, {"ok": True})

    async def _m_auth_test(self, call: RecordedCall, params: dict[str, Any]) -> web.Response:
        return self._answer(
            call,
            {
                "ok": True,
                "url": "https://studybot-test.slack.com/",
                "team": "StudyBot Test",
                "team_id": self.team_id,
                "user": "studybot",
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
            },
        )

    async def _m_chat_postMessage(self, call: RecordedCall, params: dict[str, Any]) -> web.Response:
        channel = str(params.get("channel", ""))
        error = self._channel_error(channel)
        if error:
            return self._answer(call, {"ok": False, "error": error})
        if self.channel_interval_s:
            now = self.now()
            last = self._last_post.get(channel)
            if last is not None and now - last < self.channel_interval_s:
                self.rate_limited += 1
                wait = self.channel_interval_s - (now - last)
                return self._answer(
                    call,
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": self._retry_after(wait)},
                )
            self._last_post[channel] = now
        if not params.get("text") and not params.get("blocks"):
            return self._answer(call, {"ok": False, "error": "no_text"})
        message: dict[str, Any] = {
            "type": "message",
            "ts": self._next_ts(),
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": params.get("text", ""),
            "blocks": params.get("blocks", []),
        }
        if params.get("metadata"):
            message["metadata"] = params["metadata"]
        thread_ts = params.get("thread_ts")
        if thread_ts:
            message["thread_ts"] = thread_ts
            self.threads.setdefault(str(thread_ts), []).append(message)
        else:
            self.messages.setdefault(channel, []).append(message)
        return self._answer(
            call, {"ok": True, "channel": channel, "ts": message["ts"], "message": message}
        )

    async def _m_chat_postEphemeral(
        self, call: RecordedCall, params: dict[str, Any]
    ) -> web.Response:
        channel = str(params.get("channel", ""))
        error = self._channel_error(channel)
        if error:
            return self._answer(call, {"ok": False, "error": error})
        if not params.get("user"):
            return self._answer(call, {"ok": False, "error": "user_not_in_channel"})
        self.ephemerals.append(params)
        return self._answer(call, {"ok": True, "message_ts": self._next_ts()})

    async def _m_chat_update(self, call: RecordedCall, params: dict[str, Any]) -> web.Response:
        channel = str(params.get("channel", ""))
        for message in self.messages.get(channel, []):
            if message["ts"] == params.get("ts"):
                message["text"] = params.get("text", message["text"])
                message["blocks"] = params.get("blocks", message["blocks"])
                message["edited"] = {"user": BOT_USER_ID}
                return self._answer(
                    call,
                    {"ok": True, "channel": channel, "ts": message["ts"], "text": message["text"]},
                )
        return self._answer(call, {"ok": False, "error": "message_not_found"})

    async def _m_chat_delete(self, call: RecordedCall, params: dict[str, Any]) -> web.Response:
        channel = str(params.get("channel", ""))
        ts = params.get("ts")
        for where in (self.messages.get(channel, []), *self.threads.values()):
            for message in where:
                if message["ts"] == ts and message.get("user") == BOT_USER_ID:
                    where.remove(message)
                    self.deleted.append({"channel": channel, **message})
                    return self._answer(call, {"ok": True, "channel": channel, "ts": ts})
        return self._answer(call, {"ok": False, "error": "message_not_found"})

    async def _m_conversations_history(
        self, call: RecordedCall, params: dict[str, Any]
    ) -> web.Response:
        channel = str(params.get("channel", ""))
        error = self._channel_error(channel)
        if error:
            return self._answer(call, {"ok": False, "error": error})
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        newest_first = list(reversed(self.messages.get(channel, [])))
        start = int(params.get("cursor") or 0)
        limit = min(int(params.get("limit") or 100), 999)
        page = newest_first[start : start + limit]
        shown = [
            m if with_metadata else {k: v for k, v in m.items() if k != "metadata"} for m in page
        ]
        more = start + limit < len(newest_first)
        return self._answer(
            call,
            {
                "ok": True,
                "messages": shown,
                "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""},
            },
        )

    async def _m_conversations_open(
        self, call: RecordedCall, params: dict[str, Any]
    ) -> web.Response:
        users = str(params.get("users", ""))
        if not users:
            return self._answer(call, {"ok": False, "error": "users_list_not_supplied"})
        return self._answer(call, {"ok": True, "channel": {"id": "D" + users.replace(",", "")}})

    async def _m_conversations_create(
        self, call: RecordedCall, params: dict[str, Any]
    ) -> web.Response:
        name = str(params.get("name", ""))
        if not name or name != name.lower() or " " in name or len(name) > 80:
            return self._answer(call, {"ok": False, "error": "invalid_name"})
        if any(c["name"] == name for c in self.private_channels.values()):
            return self._answer(call, {"ok": False, "error": "name_taken"})
        channel_id = f"G{len(self.private_channels) + 1:08d}"
        private = str(params.get("is_private", "")).lower() in ("true", "1")
        info = {"id": channel_id, "name": name, "is_private": private, "members": []}
        self.private_channels[channel_id] = info
        self.channel_names[channel_id] = name
        return self._answer(call, {"ok": True, "channel": info})

    async def _m_conversations_invite(
        self, call: RecordedCall, params: dict[str, Any]
    ) -> web.Response:
        info = self.private_channels.get(str(params.get("channel", "")))
        if info is None:
            return self._answer(call, {"ok": False, "error": "channel_not_found"})
        users = [u for u in str(params.get("users", "")).split(",") if u]
        if not users:
            return self._answer(call, {"ok": False, "error": "no_user"})
        info["members"] = sorted({*info["members"], *users})
        return self._answer(call, {"ok": True, "channel": info})

    async def _m_conversations_archive(
        self, call: RecordedCall, params: dict[str, Any]
    ) -> web.Response:
        channel = str(params.get("channel", ""))
        if channel not in self.private_channels and channel not in self.channel_names:
            return self._answer(call, {"ok": False, "error": "channel_not_found"})
        if channel in self.archived_channels:
            return self._answer(call, {"ok": False, "error": "already_archived"})
        self.archived_channels.add(channel)
        return self._answer(call, {"ok": True})

    async def _m_conversations_info(
        self, call: RecordedCall, params: dict[str, Any]
    ) -> web.Response:
        channel = str(params.get("channel", ""))
        if not channel or channel in self.missing_channels:
            return self._answer(call, {"ok": False, "error": "channel_not_found"})
        name = self.channel_names.get(channel, channel.lower())
        return self._answer(
            call,
            {
                "ok": True,
                "channel": {
                    "id": channel,
                    "name": name,
                    "is_channel": True,
                    "is_archived": channel in self.archived_channels,
                    "is_member": channel not in self.not_member_channels,
                },
            },
        )

    async def _m_users_info(self, call: RecordedCall, params: dict[str, Any]) -> web.Response:
        user = str(params.get("user", ""))
        if not user:
            return self._answer(call, {"ok": False, "error": "user_not_found"})
        display = self.display_names.get(user, "")
        return self._answer(
            call,
            {
                "ok": True,
                "user": {
                    "id": user,
                    "team_id": self.team_id,
                    "name": user.lower(),
                    "real_name": f"User {user}",
                    "profile": {"display_name": display, "real_name": f"User {user}"},
                    "is_admin": user in self.admins or user in self.owners,
                    "is_owner": user in self.owners,
                    "tz": "Europe/Berlin",
                },
            },
        )

    async def _m_views_open(self, call: RecordedCall, params: dict[str, Any]) -> web.Response:
        if not params.get("trigger_id"):
            return self._answer(call, {"ok": False, "error": "invalid_trigger_id"})
        view = dict(params.get("view") or {})
        view["id"] = f"V{len(self.views) + 1:08d}"
        self.views.append(view)
        return self._answer(call, {"ok": True, "view": view})


async def _serve(port: int, channel_interval: float | None, integer_retry_after: bool) -> None:
    api = MockSlackApi(channel_interval_s=channel_interval, integer_retry_after=integer_retry_after)
    url = await api.start(port)
    print(f"READY {url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await api.stop()


def main() -> None:
    """Serve the mock Slack Web API until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--channel-interval", type=float, default=None)
    parser.add_argument("--fractional-retry-after", action="store_true")
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.channel_interval, not args.fractional_retry_after))


if __name__ == "__main__":
    main()
