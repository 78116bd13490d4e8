"""Correct: CRLF frames, ping events, raw UTF-8 JSON, release in finally."""

import json


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
