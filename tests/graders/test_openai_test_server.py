"""The scripted OpenAI-compatible server that tests and benches talk to."""

from __future__ import annotations

import time

import openai
import pytest

from tests.support.openai_server import OpenAIServer, RecordedRequest, Reply


async def test_replies_come_in_script_order_then_from_the_responder(
    openai_server: OpenAIServer,
) -> None:
    seen: list[str] = []

    def responder(request: RecordedRequest) -> Reply:
        seen.append(request.messages[-1]["content"])
        return Reply.chat(f"echo: {request.messages[-1]['content']}")

    openai_server.script(Reply.chat("first"), Reply.chat("second")).respond_with(responder)
    async with openai.AsyncOpenAI(
        base_url=openai_server.base_url, api_key="k", max_retries=0
    ) as client:
        contents = []
        for text in ("a", "b", "c"):
            response = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": text}]
            )
            contents.append(response.choices[0].message.content)
            assert response.usage is not None and response.usage.total_tokens == 180
    assert contents == ["first", "second", "echo: c"]
    assert seen == ["c"]
    assert [r.messages[-1]["content"] for r in openai_server.chat_requests] == ["a", "b", "c"]
    assert openai_server.pending() == 0


async def test_errors_carry_status_and_headers(openai_server: OpenAIServer) -> None:
    openai_server.script(Reply.rate_limited(retry_after=2.5), Reply.server_error(503))
    async with openai.AsyncOpenAI(
        base_url=openai_server.base_url, api_key="k", max_retries=0
    ) as client:
        with pytest.raises(openai.RateLimitError) as limited:
            await client.chat.completions.create(model="m", messages=[])
        assert limited.value.response.headers["retry-after"] == "2.5"
        with pytest.raises(openai.InternalServerError) as failed:
            await client.chat.completions.create(model="m", messages=[])
        assert failed.value.status_code == 503
        models = await client.models.list()
        assert [m.id for m in models.data] == ["scripted-model"]


async def test_unscripted_requests_fail_loudly(openai_server: OpenAIServer) -> None:
    async with openai.AsyncOpenAI(
        base_url=openai_server.base_url, api_key="k", max_retries=0
    ) as client:
        with pytest.raises(openai.InternalServerError, match="no reply scripted"):
            await client.chat.completions.create(model="m", messages=[])


async def test_a_hang_outlasts_the_client_and_close_releases_it() -> None:
    server = OpenAIServer().start()
    server.script(Reply.hang(60))
    async with openai.AsyncOpenAI(
        base_url=server.base_url, api_key="k", max_retries=0, timeout=0.2
    ) as client:
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model="m", messages=[])
    started = time.perf_counter()
    server.close()
    assert time.perf_counter() - started < 2


def test_the_factory_gives_separate_servers(openai_server_factory: object) -> None:
    make = openai_server_factory
    assert callable(make)
    first, second = make(), make(model="other")
    assert first.base_url != second.base_url
    assert first.base_url.startswith("http://127.0.0.1:") and first.base_url.endswith("/v1")
