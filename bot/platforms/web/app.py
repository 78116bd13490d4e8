"""The dashboard's routes: a thin face over `DashboardService`, rendered with Jinja2.

A request turns into one or two service calls and one template. Sessions are signed cookies,
one per cohort (`sb_<cohort id>`), HttpOnly, SameSite=Lax, and Secure when the dashboard is
served over HTTPS (directly, or behind a proxy that says so). Every refusal is the same plain
403 page with one sentence, so a refused request learns nothing about the cohort.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import pickle
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import date, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.errors import NotFound, StudyBotError
from bot.platforms.web import charts
from bot.services.charts import prepare_drawing_process, shown_stats, stats_svg
from bot.services.dashboard import METRICS, PERIODS, AccessRefused, Viewer
from bot.services.standings import MemberStats

if TYPE_CHECKING:
    from bot.app import StudyBot
    from bot.services.dashboard import DashboardService

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
COOKIE_PREFIX = "sb_"
STATIC = "static"  # the stylesheet, served from the package: no CDN, no network
# No script, no frame, nothing from elsewhere; forms post only here; links never send the
# page's address (which may hold a sign-in token) to another site.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


class SvgCache:
    """Rendered charts by what they show (or the data version): drawn once per change.

    Requests that miss the same chart at once wait for one drawing instead of each starting one;
    the drawing is a task of its own, so a client that goes away does not cancel it for the rest.
    """

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._drawing: dict[tuple[Any, ...], asyncio.Future[bytes]] = {}
        self.renders = 0

    async def get(self, key: tuple[Any, ...], render: Callable[[], Awaitable[str]]) -> bytes:
        """Return the chart under this key, drawing it on a miss."""
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
            return found
        drawing = self._drawing.get(key)
        if drawing is None:
            drawing = asyncio.ensure_future(self._draw(key, render))
            self._drawing[key] = drawing
            drawing.add_done_callback(lambda _: self._drawing.pop(key, None))
        return await asyncio.shield(drawing)

    async def _draw(self, key: tuple[Any, ...], render: Callable[[], Awaitable[str]]) -> bytes:
        drawn = (await render()).encode("utf-8")
        self.renders += 1
        self._entries[key] = drawn
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return drawn


class RenderedPages:
    """Pages rendered from the same data for the same viewer, kept as HTML.

    The key is the template and everything its context holds (the service's frozen results and
    the viewer's identity), so a page is rendered again exactly when something it shows changed.
    It is kept as a digest of its pickled bytes, not as the objects: a member page's data is a
    few hundred objects, and five hundred kept pages would be some 150,000 objects for every
    full pass of the garbage collector to walk while the event loop waits. Equal digests mean
    equal bytes, so a page is never served for other data; equal data pickled differently is
    only a miss.
    """

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._entries: OrderedDict[bytes, bytes] = OrderedDict()
        self.renders = 0

    def get(self, key: tuple[Any, ...], render: Callable[[], str]) -> bytes:
        """Return the page under this key, rendering it when it is not kept."""
        try:
            digest = hashlib.blake2b(pickle.dumps(key, 5), digest_size=20).digest()
        except (TypeError, AttributeError, pickle.PicklingError):  # cannot be a key: keep nothing
            return render().encode("utf-8")
        found = self._entries.get(digest)
        if found is not None:
            self._entries.move_to_end(digest)
            return found
        html = render().encode("utf-8")
        self.renders += 1
        self._entries[digest] = html
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return html


_DRAWING: list[ProcessPoolExecutor] = []


async def draw_stats_svg(stats: MemberStats) -> str:
    """Draw the /stats figure as SVG in a pool of drawing processes.

    Matplotlib takes tens of milliseconds of CPU per figure: drawn on the event loop it would
    stall every page being served, and drawn in threads it would still hold the GIL. Separate
    processes at a lower priority keep the pages quick and draw with the CPU they leave; two
    at least, so that a burst of charts never drawn before (every member opening their page
    after new data) is drawn on both cores of a small machine.
    """
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_drawing_pool(), stats_svg, stats)


def _drawing_pool() -> ProcessPoolExecutor:
    if not _DRAWING:
        workers = max(2, min(4, (os.cpu_count() or 2) - 1))
        _DRAWING.append(
            ProcessPoolExecutor(
                workers, mp_context=get_context("spawn"), initializer=prepare_drawing_process
            )
        )
    return _DRAWING[0]


def start_drawing() -> list[Future[int]]:
    """Start the drawing processes now, so the first chart does not wait for matplotlib.

    Returns a future per process started, done once that process is ready to draw.
    """
    pool = _drawing_pool()
    return [pool.submit(int) for _ in range(pool._max_workers)]


class ResponseHeaders:
    """Add the security headers, no-store on pages, and the server's own time to responses.

    A plain ASGI middleware: Starlette's BaseHTTPMiddleware costs more per request than a page.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = str(scope.get("path", ""))
        cacheable = path.startswith(f"/{STATIC}/") or path.endswith(".svg")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if not cacheable:
                    headers.setdefault("Cache-Control", "no-store")
                # The server's own time, for operators and the bench (no data in it).
                elapsed = (time.perf_counter() - started) * 1e3
                headers["Server-Timing"] = f"app;dur={elapsed:.2f}"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(bot: StudyBot) -> FastAPI:
    """Build the dashboard's ASGI app over the bot's services."""
    service: DashboardService = bot.dashboard
    app = FastAPI(title="StudyBot dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount(f"/{STATIC}", StaticFiles(directory=HERE / STATIC), name=STATIC)
    templates = Jinja2Templates(directory=HERE / "templates")
    svgs = SvgCache()
    app.state.svg_cache = svgs
    rendered = RenderedPages()
    app.state.rendered_pages = rendered
    app.state.templates = templates
    https = service.base_url.startswith("https://")

    app.add_middleware(ResponseHeaders)

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(
            request, name, {"request": request, **context}, status_code=status_code
        )

    def kept_page(
        request: Request, name: str, key: tuple[Any, ...], viewer: Viewer, **context: Any
    ) -> HTMLResponse:
        """Render a page, or serve it as rendered before from the same data for this viewer."""
        who = (viewer.cohort_id, viewer.cohort.name, viewer.member_id)

        def render() -> str:
            template = templates.get_template(name)
            return template.render({"request": request, "viewer": viewer, **context})

        return HTMLResponse(rendered.get((name, who, *key), render))

    def refused(request: Request, reason: str) -> HTMLResponse:
        return page(request, "refused.html", 403, reason=reason, viewer=None)

    @app.exception_handler(AccessRefused)
    async def _refused(request: Request, exc: AccessRefused) -> HTMLResponse:
        return refused(request, exc.message)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> HTMLResponse:
        return page(request, "message.html", 404, title="Not found", text=exc.message)

    @app.exception_handler(StudyBotError)
    async def _error(request: Request, exc: StudyBotError) -> HTMLResponse:
        return page(request, "message.html", 400, title="Cannot show this", text=exc.message)

    async def viewer_of(request: Request, cohort_id: int) -> Viewer:
        cookie = request.cookies.get(f"{COOKIE_PREFIX}{cohort_id}")
        web_session = await service.read_cookie(cookie)
        return await service.viewer(web_session, cohort_id)

    # --- sign-in ------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        return page(
            request,
            "message.html",
            title="StudyBot dashboard",
            text="Type /dashboard in your cohort's channel: the bot answers with a link that "
            "signs you in here.",
        )

    @app.get("/open/{token}", response_class=HTMLResponse)
    async def open_form(request: Request, token: str) -> HTMLResponse:
        # A GET only shows a button: chat apps fetch links to preview them, and a preview
        # must not use up a single-use link.
        link = await service.check_link(token)
        return page(request, "open.html", token=token, expires_at=link.expires_at, viewer=None)

    @app.post("/open/{token}")
    async def open_link(request: Request, token: str) -> Response:
        web_session = await service.open_link(token)
        response = RedirectResponse(f"/c/{web_session.cohort_id}/", status_code=303)
        response.set_cookie(
            f"{COOKIE_PREFIX}{web_session.cohort_id}",
            value=await service.session_cookie(web_session),
            max_age=int(service.session_ttl.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=https or request.url.scheme == "https",
            path="/",
        )
        return response

    @app.post("/c/{cohort_id}/signout")
    async def sign_out(request: Request, cohort_id: int) -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(f"{COOKIE_PREFIX}{cohort_id}", path="/")
        return response

    # --- pages --------------------------------------------------------------------------------

    @app.get("/c/{cohort_id}/", response_class=HTMLResponse)
    async def overview(request: Request, cohort_id: int) -> HTMLResponse:
        viewer = await viewer_of(request, cohort_id)
        data = await service.overview(viewer)
        return kept_page(request, "overview.html", (data,), viewer, o=data, section="overview")

    @app.get("/c/{cohort_id}/leaderboard", response_class=HTMLResponse)
    async def leaderboard(
        request: Request, cohort_id: int, period: str = "week", metric: str = "points"
    ) -> HTMLResponse:
        viewer = await viewer_of(request, cohort_id)
        board = await service.leaderboard(viewer, viewer.cohort, period, metric)
        return kept_page(
            request,
            "leaderboard.html",
            (board,),
            viewer,
            board=board,
            periods=PERIODS,
            metrics=METRICS,
            section="leaderboard",
            public=False,
        )

    @app.get("/public/{cohort_id}/leaderboard", response_class=HTMLResponse)
    async def public_leaderboard(
        request: Request, cohort_id: int, period: str = "week", metric: str = "points"
    ) -> HTMLResponse:
        cohort = await service.public_cohort(cohort_id)
        board = await service.leaderboard(None, cohort, period, metric)
        return page(
            request,
            "leaderboard.html",
            viewer=None,
            cohort=cohort,
            board=board,
            periods=PERIODS,
            metrics=METRICS,
            section="leaderboard",
            public=True,
        )

    @app.get("/c/{cohort_id}/drills", response_class=HTMLResponse)
    async def drills(request: Request, cohort_id: int) -> HTMLResponse:
        viewer = await viewer_of(request, cohort_id)
        boards = await service.drill_boards(viewer)
        return page(request, "drills.html", viewer=viewer, boards=boards, section="drills")

    @app.get("/c/{cohort_id}/drills/{drill_id}/{device_kind}", response_class=HTMLResponse)
    async def drill_board(
        request: Request, cohort_id: int, drill_id: str, device_kind: str
    ) -> HTMLResponse:
        viewer = await viewer_of(request, cohort_id)
        board = await service.drill_board(viewer, drill_id, device_kind)
        return page(request, "drill_board.html", viewer=viewer, board=board, section="drills")

    @app.get("/c/{cohort_id}/members/{member_id}", response_class=HTMLResponse)
    async def member(request: Request, cohort_id: int, member_id: int) -> HTMLResponse:
        web_session = await service.read_cookie(request.cookies.get(f"{COOKIE_PREFIX}{cohort_id}"))
        viewer, data = await service.member_view(web_session, cohort_id, member_id)
        return kept_page(
            request,
            "member.html",
            (data,),
            viewer,
            m=data,
            calendar=_calendar_html(data.calendar_start, data.calendar_end, data.active_days),
            section="me" if data.own else "leaderboard",
        )

    @app.get("/c/{cohort_id}/questions", response_class=HTMLResponse)
    async def hardest(request: Request, cohort_id: int) -> HTMLResponse:
        viewer = await viewer_of(request, cohort_id)
        rows = await service.hardest_questions(viewer)
        return page(request, "hardest.html", viewer=viewer, rows=rows, section="questions")

    @app.get("/c/{cohort_id}/questions/{question_id}", response_class=HTMLResponse)
    async def question(request: Request, cohort_id: int, question_id: str) -> HTMLResponse:
        viewer = await viewer_of(request, cohort_id)
        data = service.question(question_id)
        return page(request, "question.html", viewer=viewer, q=data, section="questions")

    # --- charts -------------------------------------------------------------------------------

    async def svg_response(request: Request, key: tuple[Any, ...], render: Any) -> Response:
        """Serve the chart kept under `key` (which holds what it shows), drawing it on a miss."""
        etag = '"' + hashlib.sha1(repr(key).encode()).hexdigest()[:20] + '"'
        headers = {"ETag": etag, "Cache-Control": "private, max-age=0, must-revalidate"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        body = await svgs.get(key, render)
        return Response(body, media_type="image/svg+xml", headers=headers)

    @app.get("/c/{cohort_id}/charts/week.svg")
    async def week_chart(request: Request, cohort_id: int) -> Response:
        viewer = await viewer_of(request, cohort_id)

        async def render() -> str:  # the week's points only, not the overview's counts
            return charts.bar_chart("Points this week", await service.week(viewer))

        return await svg_response(request, ("week", cohort_id, viewer.version), render)

    @app.get("/c/{cohort_id}/charts/member-{member_id}.svg")
    async def member_chart(request: Request, cohort_id: int, member_id: int) -> Response:
        viewer = await viewer_of(request, cohort_id)
        # Kept by what the figure shows (read once per data version, and refused for a member
        # of another cohort), so new points elsewhere in the cohort do not draw it again.
        shown = shown_stats(await service.member_stats(viewer, member_id))

        async def render() -> str:
            return await draw_stats_svg(shown)

        return await svg_response(request, ("member", cohort_id, member_id, shown), render)

    templates.env.globals["quote"] = quote
    templates.env.filters["pct"] = lambda v: f"{100 * float(v):.0f}%"
    templates.env.filters["secs"] = _format_seconds
    return app


def _format_seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.2f} ms"
    return f"{value * 1e6:.1f} µs"


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _calendar_html(start: date, end: date, active: frozenset[date]) -> Markup:
    """Return the activity calendar's rows: one per weekday, one cell per week, Monday first.

    Built here rather than in the template: ninety cells with a label each are most of a
    member page's rendering time in Jinja, and a fraction of it as one join.
    """
    monday = start - timedelta(days=start.weekday())
    weeks = (end - monday).days // 7 + 1
    rows = []
    for weekday, name in enumerate(WEEKDAYS):
        cells = [f'<th scope="row">{name}</th>']
        for week in range(weeks):
            day = monday + timedelta(days=7 * week + weekday)
            if not start <= day <= end:
                cells.append('<td class="none"></td>')
                continue
            on = day in active
            label = f"{day.isoformat()}: {'points' if on else 'none'}"
            cells.append(
                f'<td class="{"on" if on else "off"}" title="{label}">'
                f'<span class="sr-only">{label}</span></td>'
            )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return Markup("\n".join(rows))
