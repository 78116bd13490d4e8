"""Mistake: skips the idle periods: no heartbeat, so proxies time the stream out."""

# expect: event \d+ is token .*, expected a heartbeat

import asyncio
import json
from collections.abc import AsyncIterator


async def sse_stream(source, release):
    try:
        async for token in source:
            if token is not None:
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
