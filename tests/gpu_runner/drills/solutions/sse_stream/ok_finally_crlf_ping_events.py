"""Correct: CRLF frames, ping events, raw UTF-8 JSON, release in finally."""

import asyncio
import json
from collections.abc import AsyncIterator


async def sse_stream(source, release):
    try:
        while True:
            try:
                token = await source.__anext__()
            except StopAsyncIteration:
                return
            if token is None:
                yield "event: ping\r\ndata: [PING]\r\n\r\n"
                continue
            yield "data: " + json.dumps({"token": token}, ensure_ascii=False) + "\r\n\r\n"
    finally:
        release()


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
