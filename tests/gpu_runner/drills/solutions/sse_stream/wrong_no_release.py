"""Mistake: does not release the model request when the client disconnects."""

# expect: release\(\) was not called

import asyncio
import json


async def sse_stream(source, release):
    try:
        async for token in source:
            if token is None:
                yield ": ping\n\n"
            else:
                yield f"data: {json.dumps({'token': token})}\n\n"
    except asyncio.CancelledError:
        raise
