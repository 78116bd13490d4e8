"""Runner jobs through Celery over Redis: one queue per device kind, nothing lost.

The bot dispatches a `RunJob` as JSON to the queue of its device kind (`cpu`, `cuda`,
`cuda-h100`, ...); a `studybot worker` on a machine with that device judges it and stores the
answer (a `RunResult`, or a `Refusal`) in the Redis result backend under the job id.

Nothing is lost when a worker dies: a job is acknowledged only after it is judged
(`acks_late`), a worker process that dies mid-job hands it back (`task_reject_on_worker_lost`),
a worker takes one job at a time (prefetch 1, so a slow job holds no others hostage), and a job
whose whole worker vanished is handed to another once the broker's visibility timeout passes.
That timeout is sized to the longest job a worker may run (Redis's default of an hour would
leave a lost job waiting that long), and a job is killed at that length.

Dispatch also leaves a small marker per job in Redis, so `status` can tell a job that is queued
(and how many are ahead) from one the broker lost (flushed): the latter is `unknown`, for the
bot's reconciler to dispatch again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gpu_runner.client import (
    JobStatus,
    RunnerError,
    RunnerUnavailableError,
    StatusCallback,
    _notify,
    unwrap,
)
from gpu_runner.protocol import Refusal, RunJob, RunResult, parse_answer

if TYPE_CHECKING:
    from celery import Celery

    from gpu_runner.worker import DeviceInfo

log = logging.getLogger(__name__)

TASK_NAME = "studybot.runner.judge"
KEY_PREFIX = "studybot:runner:"
WORKER_TTL_S = 30
PROGRESS_EVERY_S = 1.0
# A dispatched job seen nowhere is looked for again after these pauses before it counts as lost.
UNSEEN_RECHECKS_S = (0.05, 0.2, 0.0)
QUEUE_SCAN_LIMIT = 5000


class RunnerNodeSettings(BaseSettings):
    """How the runner's Celery side is set up; read by the bot and by every worker node.

    Both must agree on the visibility timeout: it decides when a job whose worker vanished is
    handed to another.
    """

    model_config = SettingsConfigDict(env_prefix="STUDYBOT_RUNNER_", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    # The longest job: each pair of timed processes, and the replay in a second process, may
    # each run up to the sandbox's wall limit (180 s); three pairs and a replay, plus margin.
    job_time_limit_s: float = Field(default=900.0, gt=0, description="the longest job")
    visibility_timeout_s: float | None = Field(
        default=None, gt=0, description="default: the longest job plus a minute"
    )
    restore_interval_s: float = Field(
        default=10.0, gt=0, description="how often a worker looks for jobs to hand back"
    )
    result_ttl_s: int = Field(default=7 * 24 * 3600, gt=0)

    @property
    def max_processes(self) -> int:
        """Return the most timed process pairs a job may ask for and still end in time."""
        from gpu_runner.sandbox import Limits

        return max(1, int(self.job_time_limit_s // Limits().wall_s) - 1)

    @property
    def visibility_s(self) -> float:
        """Return the visibility timeout: how long a job may stay unacknowledged."""
        if self.visibility_timeout_s is not None:
            return self.visibility_timeout_s
        return self.job_time_limit_s + 60.0


def make_celery_app(settings: RunnerNodeSettings) -> Celery:
    """Return a Celery app for the runner: Redis broker and backend, JSON, late acks."""
    from celery import Celery

    app = Celery("studybot_runner", broker=settings.redis_url, backend=settings.redis_url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_track_started=True,
        task_default_queue="cpu",
        task_time_limit=settings.job_time_limit_s,
        result_expires=settings.result_ttl_s,
        result_extended=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.visibility_s,
            "unacked_restore_interval": settings.restore_interval_s,
            "unacked_restore_throttle": 1,
        },
        result_backend_transport_options={"visibility_timeout": settings.visibility_s},
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_send_task_events=False,
    )
    app.task(name=TASK_NAME, bind=True)(_judge_task)
    return app


# The worker process sets these before its pool forks, so every pool process inherits them.
_NODE: dict[str, Any] = {}


def _judge_task(task: Any, payload: str) -> str:
    """Judge one job on this node; the answer is JSON (a result or a refusal)."""
    from gpu_runner.worker import detect_device, serve_job

    device = _NODE.get("device") or detect_device()
    last = [0.0]

    def progress(message: str) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_S:
            return
        last[0] = now
        try:
            task.update_state(state="STARTED", meta={"progress": message[:300]})
        except Exception:  # progress is a courtesy; judging goes on without it
            log.debug("could not publish progress", exc_info=True)

    worker = str(_NODE.get("name") or getattr(task.request, "hostname", ""))
    return serve_job(
        payload,
        device,
        options=_NODE.get("options"),
        progress=progress,
        worker=worker,
        max_processes=_NODE.get("max_processes"),
    )


def _marker_key(task_id: str) -> str:
    return f"{KEY_PREFIX}job:{task_id}"


def _worker_key(name: str) -> str:
    return f"{KEY_PREFIX}worker:{name}"


def _redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10)


class CeleryRunnerClient:
    """Dispatch jobs to Celery workers on their device kind's queue; follow and collect them."""

    def __init__(self, settings: RunnerNodeSettings | None = None, *, poll_s: float = 0.1) -> None:
        self.settings = settings or RunnerNodeSettings()
        self.app = make_celery_app(self.settings)
        self._redis = _redis(self.settings.redis_url)
        self._poll_s = poll_s

    async def dispatch(self, job: RunJob) -> str:
        """Send the job to its device kind's queue; return its task id (the job id)."""
        return await asyncio.to_thread(self.dispatch_sync, job)

    def dispatch_sync(self, job: RunJob) -> str:
        """Send the job (blocking); a job already queued or judged is not sent twice."""
        import redis

        task_id = job.job_id
        marker = json.dumps({"queue": job.kind, "at": time.time()})
        try:
            fresh = self._redis.set(
                _marker_key(task_id), marker, nx=True, ex=self.settings.result_ttl_s
            )
            if not fresh and self._state(task_id) != "unknown":
                return task_id
            self._redis.set(_marker_key(task_id), marker, ex=self.settings.result_ttl_s)
            self.app.send_task(TASK_NAME, args=[job.to_json()], task_id=task_id, queue=job.kind)
        except (redis.RedisError, OSError) as exc:
            raise RunnerUnavailableError(f"the runner queue cannot be reached: {exc}") from None
        return task_id

    def _state(self, task_id: str) -> str:
        return self.status_sync(task_id).state

    async def status(self, task_id: str) -> JobStatus:
        """Return where the job stands (queued with its position, running, done, unknown)."""
        return await asyncio.to_thread(self.status_sync, task_id)

    def status_sync(self, task_id: str) -> JobStatus:
        """Return where the job stands (blocking).

        A dispatched job found nowhere is looked for again before it is called unknown (lost):
        a worker moves it from the queue to its unacknowledged set, and from there to a stored
        result, and a look that falls between those steps sees it in neither place.
        """
        for pause_s in UNSEEN_RECHECKS_S:
            status = self._status_once(task_id)
            if status is not None:
                return status
            time.sleep(pause_s)
        return JobStatus(task_id, "unknown")

    def _status_once(self, task_id: str) -> JobStatus | None:
        """Return where the job stands, or None for a dispatched job seen nowhere this time."""
        import redis

        try:
            # One read of the stored meta: state and result must come from the same moment,
            # or a job finishing between two reads shows "started" with the answer as its info.
            meta = self.app.backend.get_task_meta(task_id)
            state, payload = str(meta.get("status", "PENDING")), meta.get("result")
            if state == "SUCCESS":
                return JobStatus(task_id, "done", result=parse_answer(str(payload)))
            if state in ("FAILURE", "REVOKED"):
                reason = f"the worker failed on this job ({type(payload).__name__})"
                refusal = Refusal(job_id=task_id, reason=reason)
                return JobStatus(task_id, "done", result=refusal)
            if state in ("STARTED", "RETRY"):
                info = payload if isinstance(payload, dict) else {}
                return JobStatus(task_id, "running", progress=str(info.get("progress", "")))
            raw = self._redis.get(_marker_key(task_id))
            if raw is None:
                return JobStatus(task_id, "unknown")
            queue = json.loads(raw).get("queue", "cpu")
            position = self._position(str(queue), task_id)
            if position is None:
                # Not in the queue and not started: taken by a worker that has not said so
                # yet, finished since the meta was read, or lost with the broker's data. Only
                # the last stays this way.
                return JobStatus(task_id, "queued") if self._unacked(task_id) else None
            return JobStatus(task_id, "queued", position=position)
        except (redis.RedisError, OSError) as exc:
            raise RunnerUnavailableError(f"the runner queue cannot be reached: {exc}") from None

    def _position(self, queue: str, task_id: str) -> int | None:
        """Return how many jobs are ahead of `task_id` in `queue`, or None if it is not there."""
        # Kombu pushes on the left and workers pop on the right: the rightmost goes first.
        items = self._redis.lrange(queue, -QUEUE_SCAN_LIMIT, -1)
        for index in range(len(items) - 1, -1, -1):
            try:
                headers = json.loads(items[index]).get("headers", {})
            except ValueError:
                continue
            if headers.get("id") == task_id:
                return len(items) - 1 - index
        return None

    def _unacked(self, task_id: str) -> bool:
        """Return whether a worker holds the job unacknowledged (taken, not yet finished)."""
        for raw in self._redis.hvals("unacked"):
            try:
                message = json.loads(raw)[0]
            except (ValueError, IndexError, KeyError, TypeError):
                continue
            if isinstance(message, dict) and message.get("headers", {}).get("id") == task_id:
                return True
        return False

    async def wait(
        self,
        task_id: str,
        *,
        timeout_s: float | None = None,
        on_status: StatusCallback | None = None,
    ) -> RunResult:
        """Poll until the job is done; report each change of its status on the way."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        last: JobStatus | None = None
        while True:
            status = await self.status(task_id)
            if status.state == "done" and status.result is not None:
                return unwrap(status.result)
            if status.state == "unknown" and last is None:
                raise RunnerError(f"no job {task_id!r} is known to the runner; dispatch it again")
            if status != last:
                await _notify(on_status, status)
                last = status
            if deadline is not None and loop.time() >= deadline:
                raise TimeoutError(f"job {task_id} did not finish within {timeout_s:g} s")
            await asyncio.sleep(self._poll_s)

    async def judge(self, job: RunJob) -> RunResult:
        """Dispatch one job and wait for its result."""
        task_id = await self.dispatch(job)
        return await self.wait(task_id)

    def workers(self) -> list[dict[str, Any]]:
        """Return what the live workers advertise: name, device, kinds served, queues."""
        found = []
        for key in self._redis.scan_iter(match=_worker_key("*")):
            raw = self._redis.get(key)
            if raw:
                found.append(json.loads(raw))
        return sorted(found, key=lambda w: str(w.get("name")))

    async def close(self) -> None:
        """Close the connections."""
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        self._redis.close()
        self.app.close()


def _advertise(settings: RunnerNodeSettings, info: dict[str, Any], stop: threading.Event) -> None:
    """Keep this worker's device and queues in Redis while it runs, for the bot and doctor."""
    client = _redis(settings.redis_url)
    key = _worker_key(str(info["name"]))
    while not stop.is_set():
        try:
            client.set(key, json.dumps({**info, "seen": time.time()}), ex=WORKER_TTL_S)
        except Exception:
            log.warning("could not advertise this worker in Redis", exc_info=True)
        stop.wait(WORKER_TTL_S / 3)
    try:
        client.delete(key)
    except Exception:
        pass


def run_worker(
    settings: RunnerNodeSettings,
    device: DeviceInfo,
    *,
    queues: Sequence[str],
    concurrency: int,
    name: str,
    loglevel: str = "INFO",
    options: Any = None,
) -> int:
    """Run a Celery worker consuming `queues` until it is stopped; return its exit status."""
    from gpu_runner.protocol import KNOWN_VERSIONS

    logging.basicConfig(level=loglevel, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _NODE.update(device=device, name=name, options=options, max_processes=settings.max_processes)
    app = make_celery_app(settings)
    info = {
        "name": name,
        "device": device.name,
        "serves": list(device.kinds),
        "queues": list(queues),
        "concurrency": concurrency,
        "protocol_versions": sorted(KNOWN_VERSIONS),
    }
    log.info("runner worker %s on %s serving %s", name, device.name, ", ".join(queues))
    stop = threading.Event()
    beat = threading.Thread(target=_advertise, args=(settings, info, stop), daemon=True)
    beat.start()
    try:
        app.worker_main(
            [
                "worker",
                f"--queues={','.join(queues)}",
                f"--concurrency={concurrency}",
                f"--hostname={name}",
                f"--loglevel={loglevel}",
                "--prefetch-multiplier=1",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ]
        )
    finally:
        stop.set()
    return 0
