"""Block Kit rendering: Slack's limits hold for every day of the curriculum and for worst cases."""

from __future__ import annotations

import re

import pytest

from bot.messages import Button, Image, Message, MessageField, Reply
from bot.platforms.slack_render import (
    MAX_BLOCKS,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    message_blocks,
    payload_problems,
    render_message,
    render_post,
    render_reply,
    split_text,
    to_mrkdwn,
)


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9]+", text)


def _block_text(block: dict[str, object]) -> str:
    parts: list[str] = []
    if isinstance(block.get("text"), dict):
        parts.append(str(block["text"]["text"]))  # type: ignore[index]
    for item in block.get("fields", []) or []:  # type: ignore[attr-defined]
        parts.append(str(item["text"]))
    for item in block.get("elements", []) or []:  # type: ignore[attr-defined]
        if isinstance(item.get("text"), str):
            parts.append(item["text"])
    return "\n".join(parts)


def test_split_text_keeps_words_whole_and_within_the_limit() -> None:
    text = " ".join(f"word{i}" for i in range(2000)) + "\n\n" + "tail paragraph " * 50
    pieces = split_text(text, 300)
    assert len(pieces) > 1
    assert all(0 < len(p) <= 300 for p in pieces)
    assert _words(" ".join(pieces)) == _words(text)


def test_split_text_prefers_paragraph_breaks() -> None:
    first = "a" * 150
    second = "b" * 150
    assert split_text(f"{first}\n\n{second}", 200) == [first, second]


def test_split_text_cuts_an_unbroken_run_hard() -> None:
    pieces = split_text("x" * 650, 300)
    assert [len(p) for p in pieces] == [300, 300, 50]


def test_markdown_becomes_mrkdwn_and_reserved_characters_are_escaped() -> None:
    out = to_mrkdwn("**Day 3** <b> & [docs](https://example.org/a?b=1)")
    assert out == "*Day 3* &lt;b&gt; &amp; <https://example.org/a?b=1|docs>"


def test_a_plain_message_is_one_payload_with_header_text_and_footer() -> None:
    message = Message(header="Day 1 of 133 — Foundations", text="Read **chapter 1**.", footer="f")
    [payload] = render_message(message)
    kinds = [b["type"] for b in payload["blocks"]]
    assert kinds == ["header", "section", "context"]
    assert payload["blocks"][1]["text"]["text"] == "Read *chapter 1*."
    assert payload["text"].startswith("Day 1 of 133")
    assert payload_problems(payload) == []


def test_a_long_header_is_clipped_to_slack_header_limit() -> None:
    [payload] = render_message(Message(header="H" * 400, text="x"))
    header = payload["blocks"][0]["text"]["text"]
    assert len(header) == MAX_HEADER_TEXT and header.endswith("…")


def test_an_oversized_message_splits_across_payloads_without_losing_text() -> None:
    long_text = "\n\n".join(f"Paragraph {i} " + "lorem ipsum " * 60 for i in range(40))
    fields = tuple(
        MessageField(f"Track {i}", f"• item {i} " * 40, inline=i % 2 == 0) for i in range(70)
    )
    code = "\n".join(f"def f{i}(): return {i}" for i in range(400))
    buttons = tuple(Button(f"Answer {i}", f"studybot:answer:{i}", value=str(i)) for i in range(30))
    message = Message(
        header="Day 99",
        text=long_text,
        fields=fields,
        code=code,
        buttons=buttons,
        image=Image("chart.png", b"\x89PNG", alt_text="a chart"),
        footer="the end",
        tone="warning",
    )
    payloads = render_message(message)
    assert len(payloads) > 1
    for payload in payloads:
        assert payload_problems(payload) == []
    blocks = [b for p in payloads for b in p["blocks"]]
    assert blocks == message_blocks(message)
    rendered = "\n".join(_block_text(b) for b in blocks)
    assert " ".join(_words(long_text)) in " ".join(_words(rendered))
    for i in range(70):
        assert f"Track {i}" in rendered
    assert rendered.count("def f") == 400
    assert sum(len(b["elements"]) for b in blocks if b["type"] == "actions") == 30
    assert payloads[1]["text"].endswith(f"(2/{len(payloads)})")


def test_every_section_of_a_huge_field_stays_under_the_section_limit() -> None:
    message = Message(fields=(MessageField("Notes", "line of notes\n" * 1000),))
    blocks = message_blocks(message)
    assert len(blocks) > 1
    assert all(len(b["text"]["text"]) <= MAX_SECTION_TEXT for b in blocks)
    assert blocks[1]["text"]["text"].startswith("*Notes* (cont.)")


def test_inline_fields_share_sections_ten_at_a_time() -> None:
    fields = tuple(MessageField(f"F{i}", str(i), inline=True) for i in range(23))
    blocks = message_blocks(Message(fields=fields))
    assert [len(b["fields"]) for b in blocks] == [10, 10, 3]


def test_buttons_keep_their_routing_and_style() -> None:
    [payload] = render_message(
        Message(
            text="Pick",
            buttons=(
                Button("Yes", "studybot:yes", value="/cohort join", style="primary"),
                Button("Docs", "studybot:docs", url="https://example.org"),
            ),
        )
    )
    actions = payload["blocks"][-1]
    assert actions["type"] == "actions"
    yes, docs = actions["elements"]
    assert (yes["action_id"], yes["value"], yes["style"]) == (
        "studybot:yes",
        "/cohort join",
        "primary",
    )
    assert docs["url"] == "https://example.org" and "style" not in docs


def test_render_post_keeps_message_order_and_each_question_whole() -> None:
    questions = [
        Message(header=f"Q{i}", text="Explain " * 300, thread_starter=True, key=f"q:{i}")
        for i in range(5)
    ]
    payloads = render_post([Message(header="Plan", key="plan"), *questions])
    assert [p["blocks"][0]["text"]["text"] for p in payloads] == ["Plan"] + [
        f"Q{i}" for i in range(5)
    ]


def test_reply_packs_messages_and_never_splits_one_that_fits() -> None:
    messages = [
        Message(header=f"M{i}", text="text " * 20, fields=(MessageField("a", "b"),), footer="f")
        for i in range(30)
    ]
    payloads = render_reply(Reply.of(*messages, ephemeral=True))
    assert 1 < len(payloads) < 30
    seen: list[str] = []
    for payload in payloads:
        assert payload["response_type"] == "ephemeral"
        assert len(payload["blocks"]) <= MAX_BLOCKS
        headers = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "header"]
        # each message (header, section, field, footer) sits whole inside one payload
        assert len([b for b in payload["blocks"] if b["type"] != "divider"]) == 4 * len(headers)
        seen.extend(headers)
    assert seen == [f"M{i}" for i in range(30)]


def test_public_reply_is_in_channel() -> None:
    [payload] = render_reply(Reply.text("Done", ephemeral=False, tone="success"))
    assert payload["response_type"] == "in_channel"
    assert payload["blocks"][0]["text"]["text"] == ":white_check_mark: Done"


def test_payload_problems_reports_broken_limits() -> None:
    bad = {
        "text": "",
        "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]
        + [{"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}}] * 50,
    }
    problems = payload_problems(bad)
    assert any("51 blocks" in p for p in problems)
    assert any("header text length 151" in p for p in problems)
    assert any("section text length 3001" in p for p in problems)
    assert any("fallback" in p for p in problems)


@pytest.fixture(scope="module")
def library() -> object:
    from content import load_library

    return load_library()


def test_every_curriculum_day_renders_within_slack_limits(library: object) -> None:
    from bot.services.daily import compose_day

    total = library.days_total  # type: ignore[attr-defined]
    assert total == 133
    for day in range(1, total + 1):
        messages = compose_day(library.day(day))  # type: ignore[attr-defined]
        assert messages[0].key == "plan"
        for message in messages:
            payloads = render_message(message)
            if message.key.startswith("q:"):
                assert len(payloads) == 1, f"day {day} {message.key} split across messages"
            for payload in payloads:
                assert payload_problems(payload) == [], (day, message.key)
        for payload in render_reply(Reply.of(*messages)):
            assert payload_problems(payload) == [], (day, "reply")
