"""The web dashboard face: read-only pages over the services, served by uvicorn.

`studybot web` serves it alone; `studybot run` serves it beside the chat faces when
STUDYBOT_WEB_PORT is set (see `serving_dashboard`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app import StudyBot

log = logging.getLogger(__name__)


async def serve_dashboard(bot: StudyBot, *, host: str, port: int) -> None:
    """Serve the dashboard until cancelled; signals stay with the process that embeds it."""
    import uvicorn

    from bot.platforms.web.app import create_app

    class EmbeddedServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # type: ignore[no-untyped-def]
            yield  # Ctrl-C belongs to the console or the bot process, not to this server

    config = uvicorn.Config(
        create_app(bot),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        lifespan="off",
    )
    server = EmbeddedServer(config)
    log.info("dashboard on http://%s:%s (links point at %s)", host, port, bot.dashboard.base_url)
    try:
        await server.serve()
    finally:
        server.should_exit = True


def run_dashboard(bot_factory: Callable[[], Awaitable[StudyBot]], *, host: str, port: int) -> None:
    """Serve the dashboard as its own process, on uvloop where it is installed."""

    async def main() -> None:
        bot = await bot_factory()
        try:
            await serve_dashboard(bot, host=host, port=port)
        finally:
            await bot.close()

    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())


@contextlib.asynccontextmanager
async def serving_dashboard(bot: StudyBot) -> AsyncIterator[None]:
    """Serve the dashboard beside the bot while inside, when STUDYBOT_WEB_PORT is set."""
    web = bot.settings.web
    if web.port is None:
        yield
        return
    task = asyncio.create_task(
        serve_dashboard(bot, host=web.host, port=web.listen_port), name="face:web"
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
