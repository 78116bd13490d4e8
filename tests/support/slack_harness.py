"""The Slack face driven as Slack drives it: signed HTTP requests in, the mock Web API out.

`SlackHarness` posts slash commands, Events API callbacks and interactivity payloads to the
face's real HTTP application (the signature gate in front of Bolt), signed with the test
secret, and watches two servers: the mock Web API, and a stranger host that any response_url
of a forged request points at.
"""

from __future__ import annotations

import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import StudyBot
from bot.clock import FakeClock
from bot.platforms.slack_app import (
    EVENTS_PATH,
    SLASH_COMMAND,
    SignedRequestGate,
    build_slack_app,
    signed_web_app,
)
from bot.settings import SlackSettings, load_settings
from tests.support.slack_api_server import MockSlackApi

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0TEAM001"
CHANNEL = "C0STUDY01"
MEMBER = "U0MEMBER1"
ADMIN = "U0ADMIN01"


class StrangerHost:
    """Another host on the network: records every request that reaches it."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _any(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        return web.Response(text="ok")

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._any)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def url(self, path: str = "/hook") -> str:
        """Return a URL on this host."""
        return f"http://127.0.0.1:{self.port}{path}"

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()


class SlackHarness:
    """The real face behind an aiohttp test server, and the servers it may call."""

    def __init__(
        self,
        api: MockSlackApi,
        http: TestClient,
        bot: StudyBot,
        gate: SignedRequestGate,
        stranger: StrangerHost,
    ) -> None:
        self.api = api
        self.http = http
        self.bot = bot
        self.gate = gate
        self.stranger = stranger
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        """Return a number no other request of this test used."""
        return next(self._ids)

    async def post(self, body: bytes | str, headers: dict[str, str]) -> ClientResponse:
        """POST raw bytes to the events path with exactly these headers."""
        data = body.encode() if isinstance(body, str) else body
        return await self.http.post(EVENTS_PATH, data=data, headers=headers)

    def signature_headers(
        self, body: bytes | str, *, secret: str = SECRET, age_s: int = 0
    ) -> dict[str, str]:
        """Return the headers Slack signs a body with."""
        timestamp = str(int(time.time()) - age_s)
        data = body.encode() if isinstance(body, str) else body
        digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + data, "sha256")
        signature = f"v0={digest.hexdigest()}"
        return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}

    async def signed_post(
        self,
        body: bytes | str,
        content_type: str,
        *,
        secret: str = SECRET,
        age_s: int = 0,
        extra_headers: dict[str, str] | None = None,
    ) -> ClientResponse:
        """POST a body to /slack/events signed the way Slack signs it."""
        headers = {
            "Content-Type": content_type,
            **self.signature_headers(body, secret=secret, age_s=age_s),
            **(extra_headers or {}),
        }
        return await self.post(body, headers)

    def slash_form(
        self, text: str, *, user: str = MEMBER, trigger_id: str | None = None, **extra: str
    ) -> str:
        """Return the form body of `/study <text>` as Slack sends it."""
        form = {
            "token": "legacy",
            "team_id": TEAM,
            "team_domain": "studybot-test",
            "channel_id": CHANNEL,
            "channel_name": "study",
            "user_id": user,
            "user_name": user.lower(),
            "command": SLASH_COMMAND,
            "text": text,
            "api_app_id": "A0STUDY01",
            "response_url": self.api.response_url(f"{user}-{self.next_id()}"),
            "trigger_id": trigger_id or f"1337.{self.next_id()}.abcd",
            **extra,
        }
        return urlencode(form)

    async def slash(
        self, text: str, *, user: str = MEMBER, trigger_id: str | None = None, **extra: str
    ) -> ClientResponse:
        """Run `/study <text>` as a member."""
        body = self.slash_form(text, user=user, trigger_id=trigger_id, **extra)
        return await self.signed_post(body, "application/x-www-form-urlencoded")

    def event_body(self, event: dict[str, Any], *, event_id: str | None = None) -> str:
        """Return the JSON body of an Events API callback."""
        body = {
            "token": "legacy",
            "team_id": TEAM,
            "api_app_id": "A0STUDY01",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{self.next_id():08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM, "user_id": "UBOTUSER1", "is_bot": True}],
        }
        return json.dumps(body)

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
    ) -> ClientResponse:
        """Deliver an Events API callback (a retry carries X-Slack-Retry-Num)."""
        extra = (
            {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
            if retry_num
            else None
        )
        return await self.signed_post(
            self.event_body(event, event_id=event_id), "application/json", extra_headers=extra
        )

    async def interaction(self, payload: dict[str, Any]) -> ClientResponse:
        """Deliver an interactivity payload (modal submission, button)."""
        body = urlencode({"payload": json.dumps(payload)})
        return await self.signed_post(body, "application/x-www-form-urlencoded")


def text_of(payload: dict[str, Any]) -> str:
    """Return every piece of text a Slack payload shows, one per line."""
    parts = [payload.get("text", "")]
    for block in payload.get("blocks", []):
        if isinstance(block.get("text"), dict):
            parts.append(block["text"]["text"])
        parts.extend(f["text"] for f in block.get("fields", []))
        parts.extend(e.get("text", "") for e in block.get("elements", []) if isinstance(e, dict))
    return "\n".join(str(p) for p in parts)


@asynccontextmanager
async def slack_face(db: Any, **api_options: Any) -> AsyncIterator[SlackHarness]:
    """Run the Slack face on a migrated database against a fresh mock Web API."""
    api_options.setdefault("admins", {ADMIN})
    stranger = StrangerHost()
    await stranger.start()
    try:
        async with MockSlackApi(**api_options) as api:
            settings = load_settings().model_copy(
                update={
                    "slack": SlackSettings(
                        bot_token=api.token,
                        signing_secret=SECRET,
                        app_token=None,
                        api_base_url=api.base_url,
                    )
                }
            )
            bot = StudyBot(
                settings=settings,
                engine=db.engine,
                sessions=db.sessions,
                clock=FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),
            )
            app, publisher = build_slack_app(bot, publisher_interval_s=0)
            bot.add_publisher("slack", publisher)
            web_app, gate = signed_web_app(bot, app)
            async with TestClient(TestServer(web_app)) as http:
                yield SlackHarness(api, http, bot, gate, stranger)
            await publisher.aclose()
    finally:
        await stranger.stop()
