"""Drill `sse_stream`: a Server-Sent Events generator for streamed tokens."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills.base import Case, Drill, python_rng, standalone_source

SIGNATURE = (
    "async def sse_stream(\n"
    "    source: AsyncIterator[str | None], release: Callable[[], None]\n"
    ") -> AsyncIterator[str]"
)
DOCSTRING = """\
An async generator for a FastAPI StreamingResponse(media_type="text/event-stream").

`source` yields the model's tokens (str), and None when no token came for the
heartbeat interval. For each token yield one SSE event whose data is the JSON
{"token": token} (data: <json>, then a blank line: the frame ends with "\\n\\n").
For each None yield a heartbeat: a comment line (": ping") or an event whose
data is [PING]. When the client disconnects, the server cancels the generator
(asyncio.CancelledError at the yield): call release() to free the in-flight model
request, then let the cancellation propagate.

The file also holds `run_sse`, which the judge calls: it drives your generator
over a script of tokens and idle periods, disconnecting early in some cases.
The judge runs its own copy of it: you may leave it out; changes do not count.
Judged by parsing the stream as a browser's EventSource would:
the tokens in order (tokens may hold newlines, quotes and any Unicode), one
heartbeat per idle period, and release() called on a disconnect."""

TEMPLATE_HEAD = '''\
"""Drill sse_stream: write `sse_stream` below; the judge calls `run_sse`, which uses it."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable


async def sse_stream(
    source: AsyncIterator[str | None], release: Callable[[], None]
) -> AsyncIterator[str]:
    """Yield 'data: {"token": ...}' events and heartbeats; release() on a disconnect."""
    raise NotImplementedError("sse_stream is not implemented yet")
    yield ""


'''


async def sse_stream(
    source: AsyncIterator[str | None], release: Callable[[], None]
) -> AsyncIterator[str]:
    """JSON data events, comment heartbeats, release on cancellation."""
    try:
        async for token in source:
            if token is None:
                yield ": ping\n\n"
            else:
                yield f"data: {json.dumps({'token': token})}\n\n"
    except asyncio.CancelledError:
        release()
        raise


def run_sse(items: list[str | None], disconnect_after: int) -> tuple[str, bool]:
    """Provided (leave as it is): stream `items` through sse_stream; the client goes away
    after `disconnect_after` frames (-1: it reads to the end). Returns (stream, released)."""
    released: list[bool] = []

    async def source() -> AsyncIterator[str | None]:
        for item in items:
            await asyncio.sleep(0)
            yield item

    async def client() -> str:
        stream = sse_stream(source(), lambda: released.append(True))
        frames: list[str] = []
        async for frame in stream:
            frames.append(frame.decode() if isinstance(frame, bytes) else str(frame))
            if len(frames) == disconnect_after:
                try:
                    await stream.athrow(asyncio.CancelledError())
                except (asyncio.CancelledError, StopAsyncIteration):
                    pass
                break
        return "".join(frames)

    text = asyncio.run(client())
    return text, bool(released)


TEMPLATE = TEMPLATE_HEAD + standalone_source(run_sse, imports=())

TOKENS = (
    "Hello",
    " world",
    ",",
    " it's",
    ' "quoted"',
    "\n",
    "line\nbreak",
    "é",
    "中文",
    "😀",
    "{}",
    "data: x",
    ":",
)


def parse_sse(text: str) -> tuple[list[tuple[str, str]], str | None]:
    """Parse a stream as EventSource does: ("token", t) and ("ping", "") items, or a problem."""
    out: list[tuple[str, str]] = []
    data: list[str] = []
    event = ""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for line in lines[:-1]:  # the text after the last newline is an unfinished line
        if line == "":
            if data:
                payload = "\n".join(data)
                if event == "ping" or payload in ("[PING]", "ping"):
                    out.append(("ping", ""))
                else:
                    try:
                        value = json.loads(payload)
                    except ValueError:
                        return out, f"event data {payload!r} is not JSON"
                    if not isinstance(value, dict) or not isinstance(value.get("token"), str):
                        return out, f'event data {payload!r} is not {{"token": <string>}}'
                    out.append(("token", value["token"]))
            elif event == "ping":
                out.append(("ping", ""))
            data, event = [], ""
        elif line.startswith(":"):
            out.append(("ping", ""))
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "data":
                data.append(value)
            elif field == "event":
                event = value
    return out, None


class SSEStreamDrill(Drill):
    """SSE generator judged by parsing its stream like EventSource."""

    id = "sse_stream"
    title = "SSE streaming response generator"
    entry = "run_sse"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = TEMPLATE
    needs_torch = False
    upcast_reference = False
    reference_impl = staticmethod(run_sse)
    reference_helpers = (sse_stream,)
    provided = (run_sse,)
    provided_imports = ("import asyncio", "from collections.abc import AsyncIterator")
    reference_imports = (
        "import asyncio",
        "import json",
        "from collections.abc import AsyncIterator, Callable",
    )
    bank_questions = (500,)
    public_cases = (
        Case("plain_tokens", {"n": 8, "idle": 0.0, "tricky": 0.0}),
        Case("with_heartbeats", {"n": 12, "idle": 0.3, "tricky": 0.0}),
    )
    secret_cases = (
        Case("tricky_tokens", {"n": 30, "idle": 0.1, "tricky": 0.6}),
        Case("disconnect", {"n": 20, "idle": 0.2, "tricky": 0.2, "disconnect": 0.5}),
        Case("disconnect_at_once", {"n": 10, "idle": 0.0, "tricky": 0.0, "disconnect": 0.01}),
        Case("long_idle", {"n": 15, "idle": 0.7, "tricky": 0.3}),
    )
    bench_cases = (Case("bench_5000_tokens", {"n": 5000, "idle": 0.05, "tricky": 0.2}),)

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return a script of tokens (some with newlines, quotes, emoji) and idle periods."""
        p = case.params
        rng = python_rng(self.id, case, seed)
        items: list[str | None] = []
        for _ in range(int(p["n"])):
            if rng.random() < float(p["idle"]):
                items.append(None)
            elif rng.random() < float(p["tricky"]):
                items.append(rng.choice(TOKENS))
            else:
                items.append(rng.choice(("the", " cat", " sat", " on", " a", " mat", "!")))
        share = float(p.get("disconnect", 0.0))
        disconnect = max(1, int(len(items) * share)) if share else -1
        return FunctionCall((items, disconnect), {})

    def compare(
        self,
        case: Case,
        got: object,
        expected: object,
        inputs: FunctionCall | Trace | None = None,
    ) -> str | None:
        """Parse the stream; tokens and heartbeats in order; released on a disconnect."""
        assert isinstance(inputs, FunctionCall) and isinstance(expected, tuple)
        if not isinstance(got, tuple | list) or len(got) != 2 or not isinstance(got[0], str):
            return "run_sse should return (stream, released): leave it as it is"
        text, released = got
        items, disconnect = inputs.args
        wanted = [("ping", "") if i is None else ("token", i) for i in items]
        events, problem = parse_sse(text)
        if problem is not None:
            return (
                f"after {len(events)} events, {problem}: each frame is 'data: <json>' and "
                "a blank line (\\n\\n)"
            )
        if disconnect >= 0:
            if not released:
                return (
                    f"the client disconnected after {disconnect} frames but release() was not "
                    "called: catch asyncio.CancelledError (or use finally) and release"
                )
            wanted = wanted[: len(events)]
        if events == wanted:
            return None
        i = next((j for j, (g, w) in enumerate(zip(events, wanted, strict=False)) if g != w), None)
        if i is None:
            return (
                f"the stream holds {len(events)} events for {len(wanted)} tokens and idle "
                "periods: does every frame end with a blank line (\\n\\n)?"
            )
        what = "a heartbeat" if wanted[i][0] == "ping" else f"token {wanted[i][1]!r}"
        got_what = "a heartbeat" if events[i][0] == "ping" else f"token {events[i][1]!r}"
        return f"event {i} is {got_what}, expected {what}"


DRILL = SSEStreamDrill()
