"""Mistake: skips the idle periods: no heartbeat, so proxies time the stream out."""

# expect: event \d+ is token .*, expected a heartbeat

import asyncio
import json


async def sse_stream(source, release):
    try:
        async for token in source:
            if token is not None:
                yield f"data: {json.dumps({'token': token})}\n\n"
    except asyncio.CancelledError:
        release()
        raise
