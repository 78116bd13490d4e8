"""Mistake: sends the raw token, not JSON: a token holding a newline breaks the frame."""

# expect: is not JSON|is not \{

import asyncio


async def sse_stream(source, release):
    try:
        async for token in source:
            if token is None:
                yield ": ping\n\n"
            else:
                yield f"data: {token}\n\n"
    except asyncio.CancelledError:
        release()
        raise
