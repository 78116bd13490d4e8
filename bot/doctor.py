"""`studybot doctor`: check every configured part and say, per failure, how to fix it.

Each check returns one `Check`: its name, ok / warn / fail / skip, what was found and the fix.
Required parts (settings, database, migrations, a configured chat token) fail the run; optional
ones (Redis, runner workers, the sandbox, the embedding model, a configured LLM endpoint) warn.
Every line goes through `mask_secrets`, so no token, key or URL password is ever printed.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from bot.settings import Settings

Status = Literal["ok", "warn", "fail", "skip"]
CHECK_TIMEOUT_S = 15.0
DISCORD_API = "https://discord.com/api/v10"


@dataclass(frozen=True)
class Check:
    """The outcome of one check: what was found and, when it failed, the fix."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def line(self) -> str:
        """Render the check as one line for a terminal."""
        mark = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "-   "}[self.status]
        text = f"{mark} {self.name:<11} {self.detail}"
        return f"{text} -> {self.fix}" if self.fix and self.status in ("warn", "fail") else text


def _ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def check_database(settings: Settings) -> list[Check]:
    """Connect to the database and read its migration revision."""
    from sqlalchemy import text

    from bot.settings import redact_url
    from bot.store.engine import make_engine
    from bot.store.migrate import current_revision, head_revision

    where = redact_url(settings.db.url)
    engine = make_engine(settings.db.url)
    try:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
                current = await current_revision(engine)
        except Exception as exc:
            return [
                Check(
                    "database",
                    "fail",
                    f"cannot reach {where} ({_reason(exc)})",
                    "check STUDYBOT_DB_URL and that the database server is running",
                ),
                Check("migrations", "skip", "not checked: the database cannot be reached"),
            ]
    finally:
        await engine.dispose()
    head = head_revision()
    checks = [_ok("database", f"reachable at {where}")]
    if current == head:
        checks.append(_ok("migrations", f"at head {head}"))
    else:
        state = "never migrated" if current is None else f"at {current}"
        checks.append(
            Check(
                "migrations", "fail", f"{state}, the code needs {head}", "run: studybot db upgrade"
            )
        )
    return checks


async def check_redis(settings: Settings) -> list[Check]:
    """Ping the shared Redis and list which runner queues have a live worker."""
    checks: list[Check] = []
    urls = {"redis": settings.redis_url}
    if settings.runner.backend == "celery" and settings.runner_broker_url != settings.redis_url:
        urls["broker"] = settings.runner_broker_url
    if not settings.redis_url:
        checks.append(Check("redis", "skip", "not configured (in-process cache and budgets)"))
    for name, url in urls.items():
        if not url:
            continue
        import redis.asyncio as aioredis

        from bot.settings import redact_url

        client = aioredis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await client.ping()
            checks.append(_ok(name, f"reachable at {redact_url(url)}"))
        except Exception as exc:
            checks.append(
                Check(
                    name,
                    "warn",
                    f"cannot reach {redact_url(url)} ({_reason(exc)})",
                    "check STUDYBOT_REDIS_URL / STUDYBOT_RUNNER_REDIS_URL and that Redis runs",
                )
            )
        finally:
            await client.aclose()
    if settings.runner.backend == "celery":
        checks.append(await asyncio.to_thread(_check_workers, settings))
    return checks


def _check_workers(settings: Settings) -> Check:
    """Say which device queues have a live Celery runner worker."""
    from gpu_runner.celery_runner import CeleryRunnerClient, RunnerNodeSettings

    node = RunnerNodeSettings()
    if settings.runner_broker_url:
        node = node.model_copy(update={"redis_url": settings.runner_broker_url})
    client = CeleryRunnerClient(node)
    try:
        workers = client.workers()
    except Exception as exc:
        return Check(
            "workers",
            "warn",
            f"cannot list runner workers ({_reason(exc)})",
            "check STUDYBOT_RUNNER_REDIS_URL",
        )
    finally:
        client._close()
    if not workers:
        return Check(
            "workers",
            "warn",
            "no live runner worker: submissions wait in their queue",
            "start one: studybot worker --queue cpu",
        )
    queues = sorted({str(q) for w in workers for q in w.get("queues", [])})
    names = ", ".join(str(w.get("name")) for w in workers)
    return _ok("workers", f"{len(workers)} live ({names}) serving queues: {', '.join(queues)}")


def _check_sandbox(settings: Settings) -> Check:
    """Check that bubblewrap is present and judge a drill's reference in the sandbox."""
    if settings.runner.backend == "celery":
        return Check("sandbox", "skip", "drills are judged on the runner workers")
    if shutil.which("bwrap") is None:
        return Check(
            "sandbox",
            "warn",
            "bubblewrap (bwrap) is not installed: drills are refused",
            "install it: apt-get install bubblewrap (see README 'Drill sandbox')",
        )
    from gpu_runner.drills import get_drill
    from gpu_runner.judge import JudgeOptions, judge

    try:
        drill = get_drill("kv_cache_bytes")  # a pure-Python drill: no torch, judged in a second
        result = judge(drill, drill.reference_source, options=JudgeOptions(timing=False))
    except Exception as exc:
        return Check(
            "sandbox",
            "warn",
            f"a trivial job could not be judged ({_reason(exc)})",
            "see README 'Drill sandbox'",
        )
    if result.verdict != "passed":
        return Check(
            "sandbox",
            "warn",
            f"the reference of {drill.id} was judged {result.verdict}: {result.message}",
            "see README 'Drill sandbox'",
        )
    return _ok("sandbox", f"bubblewrap judged a trivial job: {result.message}")


def _check_embeddings(settings: Settings) -> Check:
    """Load the offline grader's sentence encoder and encode one sentence."""
    if settings.grader.kind == "llm":
        return Check("embeddings", "skip", "STUDYBOT_GRADER_KIND=llm: no offline stage")
    try:
        from graders.embeddings import default_embedder, encoder_runtime

        vectors = default_embedder().encode(["StudyBot doctor"])
    except Exception as exc:
        return Check(
            "embeddings",
            "warn",
            f"the embedding model does not load ({_reason(exc)})",
            "pip install 'studybot[local-grader]'",
        )
    return _ok(
        "embeddings", f"model loaded ({vectors.shape[1]} dimensions, on {encoder_runtime()})"
    )


async def check_llm(settings: Settings) -> Check:
    """Send one tiny chat request to the configured OpenAI-compatible endpoint."""
    if not settings.llm_configured:
        return Check("llm", "skip", "no OPENAI_BASE_URL or OPENAI_API_KEY: offline grading")
    import openai

    base_url = settings.llm.base_url or "https://api.openai.com/v1"
    client = openai.AsyncOpenAI(
        base_url=base_url,
        api_key=settings.llm.api_key or "unused",
        max_retries=0,
        timeout=CHECK_TIMEOUT_S,
    )
    try:
        reply = await client.chat.completions.create(
            model=settings.grader.model,
            messages=[{"role": "user", "content": "Reply with OK."}],
            max_tokens=1,
        )
    except Exception as exc:
        return Check(
            "llm",
            "warn",
            f"{base_url} refused a one-token request ({_reason(exc)})",
            "check OPENAI_BASE_URL, OPENAI_API_KEY and STUDYBOT_GRADER_MODEL; answers are "
            "graded offline meanwhile",
        )
    finally:
        await client.close()
    return _ok("llm", f"{base_url} answered with model {reply.model or settings.grader.model}")


async def check_discord(settings: Settings) -> Check:
    """Ask Discord who the token belongs to."""
    if not settings.discord.token:
        return Check("discord", "skip", "DISCORD_TOKEN not set")
    import aiohttp

    base = (settings.discord.api_base_url or DISCORD_API).rstrip("/")
    headers = {"Authorization": f"Bot {settings.discord.token}"}
    fix = "copy the bot token again (Developer Portal -> your application -> Bot -> Reset Token)"
    try:
        timeout = aiohttp.ClientTimeout(total=CHECK_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            async with http.get(f"{base}/users/@me", headers=headers) as response:
                body = await response.json(content_type=None) if response.status == 200 else {}
                status = response.status
    except Exception as exc:
        return Check(
            "discord",
            "fail",
            f"cannot reach Discord ({_reason(exc)})",
            "check the network or proxy, or unset DISCORD_TOKEN",
        )
    if status == 401:
        return Check("discord", "fail", "DISCORD_TOKEN was rejected (401)", fix)
    if status != 200:
        return Check("discord", "fail", f"Discord answered HTTP {status}", fix)
    return _ok("discord", f"token belongs to {body.get('username', '?')} ({body.get('id', '?')})")


async def check_slack(settings: Settings) -> Check:
    """Ask Slack who the bot token belongs to (auth.test)."""
    if not settings.slack.bot_token:
        return Check("slack", "skip", "SLACK_BOT_TOKEN not set")
    from slack_sdk.web.async_client import AsyncWebClient

    base = settings.slack.api_base_url or AsyncWebClient.BASE_URL
    client = AsyncWebClient(token=settings.slack.bot_token, base_url=base, timeout=15)
    try:
        answer = await client.auth_test()
    except Exception as exc:
        error = getattr(getattr(exc, "response", None), "get", lambda _k, _d=None: None)("error")
        return Check(
            "slack",
            "fail",
            f"SLACK_BOT_TOKEN was not accepted ({error or _reason(exc)})",
            "copy the bot token (xoxb-...) again from the Slack app's OAuth & Permissions page",
        )
    mode = "Socket Mode" if settings.slack.app_token else "HTTP mode"
    return _ok(
        "slack",
        f"bot {answer.get('user', '?')} ({answer.get('user_id', '?')}) in team "
        f"{answer.get('team', '?')}, {mode}",
    )


REQUIRED = {"settings", "database", "migrations", "discord", "slack"}


async def _guarded(name: str, check: Callable[[], Awaitable[Check | list[Check]]]) -> list[Check]:
    """Run one check; a check that itself breaks is reported, never raised."""
    try:
        found = await check()
    except Exception as exc:
        status: Status = "fail" if name in REQUIRED else "warn"
        return [Check(name, status, f"the check itself failed ({_reason(exc)})")]
    return found if isinstance(found, list) else [found]


async def run_checks(settings: Settings) -> list[Check]:
    """Run every check, the slow local ones in threads beside the network ones."""
    from bot.settings import startup_problem

    problem = startup_problem(settings)
    checks = [
        Check("settings", "fail", problem, "see README 'Configuration'")
        if problem
        else _ok("settings", "valid")
    ]
    groups = await asyncio.gather(
        _guarded("database", lambda: check_database(settings)),
        _guarded("redis", lambda: check_redis(settings)),
        _guarded("sandbox", lambda: asyncio.to_thread(_check_sandbox, settings)),
        _guarded("embeddings", lambda: asyncio.to_thread(_check_embeddings, settings)),
        _guarded("llm", lambda: check_llm(settings)),
        _guarded("discord", lambda: check_discord(settings)),
        _guarded("slack", lambda: check_slack(settings)),
    )
    for group in groups:
        checks += group
    return checks


def settings_failure(message: str) -> list[Check]:
    """Return the report when the settings themselves cannot be read."""
    return [
        Check("settings", "fail", message.removeprefix("Configuration error: "), "fix it in .env")
    ]


def failed(checks: list[Check]) -> bool:
    """Tell whether a required part failed."""
    return any(c.status == "fail" for c in checks)


def render(checks: list[Check], *, as_json: bool, settings: Settings | None) -> str:
    """Render the report, every secret masked."""
    from bot.settings import mask_secrets

    if as_json:
        payload = {
            "ok": not failed(checks),
            "warnings": sum(c.status == "warn" for c in checks),
            "checks": [asdict(c) for c in checks],
        }
        text = json.dumps(payload, indent=2, ensure_ascii=False)
    else:
        text = "\n".join(c.line() for c in checks)
        fails = sum(c.status == "fail" for c in checks)
        warns = sum(c.status == "warn" for c in checks)
        text += (
            f"\n{fails} problem(s), {warns} warning(s)"
            if fails
            else f"\nready ({warns} warning(s))"
        )
    return mask_secrets(text, settings)
