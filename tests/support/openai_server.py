"""A scriptable OpenAI-compatible HTTP server on 127.0.0.1 for tests and benches.

It speaks enough of the API for the real `openai` client: POST /v1/chat/completions and
GET /v1/models. Each chat request takes the next scripted `Reply` from a queue, or, when the
queue is empty, asks the server's responder (a function of the request). Replies can be a good
completion, any text (invalid JSON included), an HTTP error with headers (429 + Retry-After, 500)
or a hang longer than the client's timeout. Every request is recorded.

    server = OpenAIServer().start()
    server.script(Reply.rate_limited(retry_after=1), Reply.chat_json({"points": [...]}))
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test")
    ...
    assert len(server.chat_requests) == 2
    server.close()

In pytest, use the `openai_server` fixture (one server) or `openai_server_factory` (as many as
needed); import both into a conftest.py to make them available.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Reply:
    """One scripted HTTP reply: status, body, headers, and how long to wait before sending."""

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    # When set, the body is sent one byte at a time with this pause between bytes: a server
    # that never stalls long enough for a per-read timeout to fire, yet never finishes.
    drip_s: float = 0.0

    @classmethod
    def chat(
        cls,
        content: str,
        *,
        model: str = "scripted-model",
        prompt_tokens: int = 120,
        completion_tokens: int = 60,
        finish_reason: str = "stop",
    ) -> Reply:
        """Return a chat completion whose message content is the given text."""
        return cls(
            body={
                "id": f"chatcmpl-{time.monotonic_ns()}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": finish_reason,
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )

    @classmethod
    def chat_json(cls, payload: Any, **kwargs: Any) -> Reply:
        """Return a chat completion whose content is the payload as JSON."""
        return cls.chat(json.dumps(payload), **kwargs)

    @classmethod
    def invalid_json(cls, **kwargs: Any) -> Reply:
        """Return a chat completion whose content is cut off mid-JSON."""
        return cls.chat('{"points": [{"point": 1, "reasoning": "The answer', **kwargs)

    @classmethod
    def error(cls, status: int, message: str = "error", **headers: str) -> Reply:
        """Return an OpenAI-style error body with the given status and headers."""
        body = {"error": {"message": message, "type": "server_error", "code": str(status)}}
        return cls(status=status, body=body, headers=headers)

    @classmethod
    def rate_limited(cls, retry_after: float = 1.0) -> Reply:
        """Return 429 Too Many Requests with a Retry-After header (seconds)."""
        return cls.error(429, "rate limited", **{"Retry-After": f"{retry_after:g}"})

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        """Return a 5xx error."""
        return cls.error(status, "internal error")

    @classmethod
    def drip(cls, reply: Reply, every_s: float = 0.25) -> Reply:
        """Send the reply's headers at once, then its body one byte every `every_s` seconds."""
        return cls(
            status=reply.status,
            body=reply.body,
            headers=reply.headers,
            delay_s=reply.delay_s,
            drip_s=every_s,
        )

    @classmethod
    def hang(cls, seconds: float = 30.0) -> Reply:
        """Send nothing for `seconds` (past any sane client timeout), then a 500."""
        return cls(status=500, body={"error": {"message": "too late"}}, delay_s=seconds)


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    received_at: float

    @property
    def json(self) -> Any:
        """Return the body parsed as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Return the chat messages of a chat completion request."""
        payload = self.json or {}
        return list(payload.get("messages", []))

    @property
    def prompt(self) -> str:
        """Return every message's content joined by blank lines."""
        return "\n\n".join(str(m.get("content", "")) for m in self.messages)

    @property
    def user_text(self) -> str:
        """Return the last message's content (the grader's blocks are in it)."""
        return str(self.messages[-1].get("content", "")) if self.messages else ""

    def rubric_points(self) -> list[dict[str, Any]]:
        """Return the rubric points a grading request lists ({"id", "text"}), in listed order."""
        match = re.search(r"<rubric_points>\n(.*?)\n</rubric_points>", self.user_text, re.S)
        return list(json.loads(match.group(1))) if match else []

    def point_ids(self) -> list[int]:
        """Return the ids of the rubric points a grading request lists, in listed order."""
        return [int(p["id"]) for p in self.rubric_points()]

    def answer_block(self) -> tuple[str, str] | None:
        """Return the answer block's tag and text, as the grader showed them."""
        match = re.search(r"<(answer-[0-9a-f]+)>\n(.*)\n</\1>", self.user_text, re.S)
        return (match.group(1), match.group(2)) if match else None


Responder = Callable[[RecordedRequest], Reply]


def _no_script(request: RecordedRequest) -> Reply:
    return Reply.error(500, "no reply scripted for this request")


class OpenAIServer:
    """An OpenAI-compatible server in a background thread, scripted per request."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, model: str = "scripted-model"):
        self.model = model
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Reply] = deque()
        self._responder: Responder = _no_script
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """Return the base URL the openai client takes (ends in /v1)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Return the chat completion requests received so far."""
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def script(self, *replies: Reply) -> OpenAIServer:
        """Queue replies for the next chat requests, in order."""
        with self._lock:
            self._queue.extend(replies)
        return self

    def respond_with(self, responder: Responder | Reply) -> OpenAIServer:
        """Answer chat requests with this responder (or fixed reply) once the queue is empty."""
        with self._lock:
            if isinstance(responder, Reply):
                fixed = responder
                self._responder = lambda _request: fixed
            else:
                self._responder = responder
        return self

    def pending(self) -> int:
        """Return how many scripted replies are still queued."""
        with self._lock:
            return len(self._queue)

    def start(self) -> OpenAIServer:
        """Start serving in a daemon thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="openai-test-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; requests still hanging are released."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._queue:
                return self._queue.popleft()
            responder = self._responder
        return responder(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _record(self) -> RecordedRequest:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                return RecordedRequest(
                    method=self.command,
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                    received_at=time.monotonic(),
                )

            def _send(self, reply: Reply) -> None:
                if reply.delay_s > 0 and server._stopping.wait(reply.delay_s):
                    return
                body = reply.body
                if isinstance(body, bytes):
                    data = body
                elif isinstance(body, str):
                    data = body.encode()
                else:
                    data = json.dumps(body if body is not None else {}).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if reply.drip_s <= 0:
                        self.wfile.write(data)
                        return
                    self.wfile.flush()
                    for index in range(len(data)):
                        self.wfile.write(data[index : index + 1])
                        self.wfile.flush()
                        if server._stopping.wait(reply.drip_s):
                            return
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout under test): nothing to deliver

            def do_POST(self) -> None:
                request = self._record()
                if not request.path.rstrip("/").endswith("/chat/completions"):
                    with server._lock:
                        server.requests.append(request)
                    self._send(Reply.error(404, f"no route {request.path}"))
                    return
                self._send(server._next_reply(request))

            def do_GET(self) -> None:
                request = self._record()
                with server._lock:
                    server.requests.append(request)
                if request.path.rstrip("/").endswith("/models"):
                    model = {"id": server.model, "object": "model", "owned_by": "tests"}
                    self._send(Reply(body={"object": "list", "data": [model]}))
                else:
                    self._send(Reply.error(404, f"no route {request.path}"))

        return Handler


@pytest.fixture
def openai_server_factory() -> Iterator[Callable[..., OpenAIServer]]:
    """Start as many scripted OpenAI-compatible servers as a test needs; close them after."""
    servers: list[OpenAIServer] = []

    def start(**kwargs: Any) -> OpenAIServer:
        server = OpenAIServer(**kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def openai_server(openai_server_factory: Callable[..., OpenAIServer]) -> OpenAIServer:
    """One scripted OpenAI-compatible server on 127.0.0.1, closed after the test."""
    return openai_server_factory()
