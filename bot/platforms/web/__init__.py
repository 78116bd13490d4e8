"""The web dashboard face: read-only pages over the services, served by uvicorn.

`studybot web` serves it alone; `studybot run` serves it beside the chat faces when
STUDYBOT_WEB_PORT is set (see `serving_dashboard`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.app import StudyBot

log = logging.getLogger(__name__)

DRAWING_READY_S = 120.0  # how long start-up waits for the chart drawing processes


async def serve_dashboard(
    bot: StudyBot,
    *,
    host: str,
    port: int,
    sock: socket.socket | None = None,
    settle: bool = False,
) -> None:
    """Serve the dashboard until cancelled; signals stay with the process that embeds it.

    With `settle` (a process of its own), what start-up built is set aside from the garbage
    collector before the first request (see `settle_heap`).
    """
    import uvicorn

    from bot.platforms.web.app import create_app, start_drawing

    class EmbeddedServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # type: ignore[no-untyped-def]
            yield  # Ctrl-C belongs to the console or the bot process, not to this server

    app = create_app(bot)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        lifespan="off",
    )
    server = EmbeddedServer(config)
    drawing = start_drawing()
    try:  # ready means able to draw: a process still starting would compete with the pages
        await asyncio.wait_for(
            asyncio.gather(*(asyncio.wrap_future(f) for f in drawing)), DRAWING_READY_S
        )
    except Exception as exc:  # pages need no drawing; a chart fails on its own
        log.warning("the chart drawing processes are not ready (%s); serving pages anyway", exc)
    if settle:
        # A process of its own readies its pool now: twenty clients arriving together would
        # otherwise each wait for a new connection. A bot process's pool is already in use.
        try:
            opened = await bot.dashboard.ready_connections()
        except Exception as exc:  # the pages report a database that is down themselves
            log.warning("could not open the database connections in advance (%s)", exc)
        else:
            log.info("opened %d database connections", opened)
        settle_heap(app)
    log.info("dashboard on http://%s:%s (links point at %s)", host, port, bot.dashboard.base_url)
    try:
        await server.serve(sockets=[sock] if sock is not None else None)
    finally:
        server.should_exit = True


def settle_heap(app: Any) -> None:
    """Compile every template, collect once, and freeze what is left out of later collections.

    Start-up leaves about 200,000 long-lived objects (modules, the curriculum, the ORM's
    mappings, compiled templates), and every full pass of the garbage collector walks them
    all while the event loop serves nothing: 80-250 ms a pass where this was measured, against
    6-23 ms once they are frozen. They live as long as the process anyway. Only for a process
    of the dashboard's own: a bot process keeps its collector as it is.
    """
    templates = app.state.templates
    for name in templates.env.list_templates():
        templates.env.get_template(name)
    gc.collect()
    gc.freeze()


def run_dashboard(
    bot_factory: Callable[[], Awaitable[StudyBot]], *, host: str, port: int, workers: int = 1
) -> None:
    """Serve the dashboard as its own process(es), on uvloop where it is installed.

    With several workers the socket is bound once and each forked worker (its own event loop,
    database pool and caches) accepts on it: pages are rendered in Python, so one process
    serves one core's worth of requests.
    """
    if workers <= 1:
        _serve_in_this_process(bot_factory, host=host, port=port, sock=None)
        return
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    children: list[int] = []
    try:
        for _ in range(workers):
            pid = os.fork()
            if pid == 0:  # the worker
                code = 0
                try:
                    _serve_in_this_process(bot_factory, host=host, port=port, sock=sock)
                except KeyboardInterrupt:
                    pass
                except BaseException:
                    log.exception("dashboard worker failed")
                    code = 1
                os._exit(code)
            children.append(pid)
        # A SIGTERM to this process stops the workers too (the finally below).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        for pid in children:
            os.waitpid(pid, 0)
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError, ChildProcessError):
                os.kill(pid, signal.SIGTERM)
        sock.close()


def _serve_in_this_process(
    bot_factory: Callable[[], Awaitable[StudyBot]],
    *,
    host: str,
    port: int,
    sock: socket.socket | None,
) -> None:
    async def main() -> None:
        bot = await bot_factory()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_sigterm() -> None:
            log.warning("dashboard process %s: SIGTERM, stopping", os.getpid())
            stop.set()

        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        serving = asyncio.create_task(
            serve_dashboard(bot, host=host, port=port, sock=sock, settle=True)
        )
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
            if serving.done() and not serving.cancelled() and serving.exception() is not None:
                raise serving.exception()  # type: ignore[misc]
            if serving.done():
                log.warning("the dashboard server stopped by itself")
        finally:
            for task in (serving, stopping):
                task.cancel()
            await asyncio.gather(serving, stopping, return_exceptions=True)
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
