"""Mistake: formats the dict with str(), which gives Python's quotes, not JSON."""

# expect: is not JSON

import asyncio


async def sse_stream(source, release):
    try:
        async for token in source:
            if token is None:
                yield ": ping\n\n"
            else:
                yield f"data: {str({'token': token})}\n\n"
    except asyncio.CancelledError:
        release()
        raise
