"""Mistake: ends each frame with one newline, so the events run together."""

# expect: is not JSON|holds \d+ events|event \d+ is

import asyncio
import json


async def sse_stream(source, release):
    try:
        async for token in source:
            if token is None:
                yield ": ping\n\n"
            else:
                yield f"data: {json.dumps({'token': token})}\n"
    except asyncio.CancelledError:
        release()
        raise
