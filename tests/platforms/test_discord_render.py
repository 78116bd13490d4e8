"""The Discord renderer: payload shape, splitting within every limit, questions never cut."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.messages import Button, Image, Message, MessageField, Reply
from bot.platforms.discord_render import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    EPHEMERAL_FLAG,
    FIELD_VALUE_LIMIT,
    FIELDS_LIMIT,
    THREAD_NAME_LIMIT,
    TITLE_LIMIT,
    limit_violations,
    render_message,
    render_post,
    render_reply,
    split_text,
    thread_name,
)


def embed_chars(payload: dict[str, Any]) -> int:
    """Count what Discord counts towards the 6000 characters of a message's embeds."""
    total = 0
    for embed in payload["embeds"]:
        total += len(embed.get("title", "")) + len(embed.get("description", ""))
        total += len(embed.get("footer", {}).get("text", ""))
        total += sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
    return total


def assert_within_limits(payload: dict[str, Any]) -> None:
    """Check a payload against Discord's documented limits, independently of the renderer."""
    assert limit_violations(payload) == []
    assert payload["content"] is None or 1 <= len(payload["content"]) <= 2000
    assert len(payload["embeds"]) <= 10
    assert embed_chars(payload) <= 6000
    for embed in payload["embeds"]:
        assert len(embed.get("title", "")) <= 256
        assert len(embed.get("description", "")) <= 4096
        assert len(embed.get("fields", [])) <= 25
        for fld in embed.get("fields", []):
            assert 1 <= len(fld["name"]) <= 256 and 1 <= len(fld["value"]) <= 1024


def test_short_message_is_one_embed_with_every_part() -> None:
    message = Message(
        header="Day 3 of 133 — Attention",
        text="Theme of the day",
        fields=(MessageField("Theory", "• read", inline=True),),
        footer="3 questions below",
        tone="success",
    )
    [payload] = render_post([message])
    [embed] = payload["embeds"]
    assert payload["content"] is None
    assert embed["title"] == "Day 3 of 133 — Attention"
    assert embed["description"] == "Theme of the day"
    assert embed["fields"] == [{"name": "Theory", "value": "• read", "inline": True}]
    assert embed["footer"] == {"text": "3 questions below"}
    assert embed["color"] == 0x57F287
    assert embed["type"] == "rich"


def test_plain_text_is_content_with_its_tone() -> None:
    [payload] = render_post([Message(text="Welcome aboard!", tone="success")])
    assert payload == {"content": "✅ Welcome aboard!", "embeds": []}


def test_each_message_starts_its_own_discord_message() -> None:
    payloads = render_post([Message(header="plan", text="a"), Message(header="Q1", text="b")])
    assert [p["embeds"][0]["title"] for p in payloads] == ["plan", "Q1"]


def test_long_text_splits_at_paragraphs_within_limits() -> None:
    paragraphs = [f"Paragraph {i}: " + "word " * 150 for i in range(40)]
    message = Message(header="Long", text="\n\n".join(paragraphs))
    payloads = render_post([message])
    assert len(payloads) > 1
    descriptions = [e["description"] for p in payloads for e in p["embeds"]]
    for payload in payloads:
        assert_within_limits(payload)
    # Every paragraph survives whole, in order.
    rejoined = "\n\n".join(descriptions)
    assert rejoined.split("\n\n") == [p for p in paragraphs]


def test_many_long_fields_split_into_more_embeds_and_messages() -> None:
    lines = [f"• item {n} " + "x" * 60 for n in range(40)]
    fields = tuple(MessageField(f"Track {i}", "\n".join(lines)) for i in range(30))
    payloads = render_post([Message(header="Day", text="theme", fields=fields, footer="end")])
    for payload in payloads:
        assert_within_limits(payload)
    values = [f["value"] for p in payloads for e in p["embeds"] for f in e.get("fields", [])]
    # No bullet line is cut: every value is a run of whole lines.
    assert {line for v in values for line in v.split("\n")} == set(lines)
    names = [f["name"] for p in payloads for e in p["embeds"] for f in e.get("fields", [])]
    assert names[0] == "Track 0" and "Track 0 (cont.)" in names
    assert payloads[-1]["embeds"][-1]["footer"]["text"] == "end"
    assert payloads[0]["embeds"][0]["title"] == "Day"


def test_fields_beyond_25_move_to_another_embed() -> None:
    fields = tuple(MessageField(f"f{i}", "v") for i in range(FIELDS_LIMIT + 3))
    [payload] = render_post([Message(header="h", fields=fields)])
    assert [len(e["fields"]) for e in payload["embeds"]] == [FIELDS_LIMIT, 3]


def test_embeds_per_message_are_capped() -> None:
    fields = tuple(MessageField(f"f{i}", "v") for i in range(FIELDS_LIMIT * 12))
    payloads = render_post([Message(header="h", fields=fields)])
    assert [len(p["embeds"]) for p in payloads] == [EMBEDS_PER_MESSAGE, 2]


def test_oversized_title_and_value_are_bounded() -> None:
    message = Message(header="H" * 400, fields=(MessageField("N" * 300, "v" * 3000),))
    payloads = render_post([message])
    for payload in payloads:
        assert_within_limits(payload)
    assert payloads[0]["embeds"][0]["title"].endswith("…")
    assert len(payloads[0]["embeds"][0]["title"]) == TITLE_LIMIT


def test_code_is_fenced_in_every_chunk() -> None:
    code = "\n".join(f"x_{i} = {i}  # step" for i in range(600))
    payloads = render_post([Message(header="Template", code=code, code_language="python")])
    chunks = [e["description"] for p in payloads for e in p["embeds"] if "description" in e]
    assert len(chunks) > 1
    assert all(c.startswith("```python\n") and c.endswith("\n```") for c in chunks)
    body = "\n".join(c[len("```python\n") : -len("\n```")] for c in chunks)
    assert body == code


def test_long_plain_text_splits_under_the_content_limit() -> None:
    text = "\n".join(f"line {i} " + "y" * 90 for i in range(100))
    payloads = render_post([Message(text=text)])
    assert len(payloads) > 1
    assert all(len(p["content"]) <= CONTENT_LIMIT for p in payloads)
    assert "\n".join(p["content"] for p in payloads) == text


def test_question_never_split_across_messages() -> None:
    # A question at the description limit stays whole in one embed of one message.
    question = "Q " + "why " * ((DESCRIPTION_LIMIT - 10) // 4)
    message = Message(header="D1-01 · X", text=question, thread_starter=True, footer="f")
    [payload] = render_post([message])
    assert payload["embeds"][0]["description"] == question


def test_split_text_prefers_large_boundaries() -> None:
    assert split_text("aaa bbb\nccc", 7) == ["aaa bbb", "ccc"]
    assert split_text("aaaa bbbb", 6) == ["aaaa", "bbbb"]
    assert split_text("a" * 10, 4) == ["aaaa", "aaaa", "aa"]
    assert all(len(c) <= 50 for c in split_text("word " * 200, 50))


def test_thread_name_fits_discord() -> None:
    assert thread_name(Message(text="x" * 300, thread_starter=True)) == "x" * 99 + "…"
    assert len(thread_name(Message(thread_title="t " * 80))) <= THREAD_NAME_LIMIT
    assert thread_name(Message(header="D2-01 · Topic")) == "D2-01 · Topic"


def test_image_and_buttons_render_as_attachments_and_rows() -> None:
    buttons = tuple(Button(f"b{i}", "cohort join", value=str(i)) for i in range(7))
    message = Message(
        header="Chart",
        image=Image("chart.png", b"\x89PNG", alt_text="standings"),
        buttons=(*buttons, Button("Docs", "docs", url="https://example.org")),
    )
    [payload] = render_post([message])
    assert payload["attachments"] == [
        {"id": 0, "filename": "chart.png", "description": "standings"}
    ]
    assert payload["embeds"][0]["image"] == {"url": "attachment://chart.png"}
    rows = payload["components"]
    assert [len(r["components"]) for r in rows] == [5, 3]
    assert rows[0]["components"][0]["custom_id"] == "studybot:cohort join:0"
    assert rows[1]["components"][-1] == {
        "type": 2,
        "label": "Docs",
        "style": 5,
        "url": "https://example.org",
    }


def test_reply_payloads_carry_the_ephemeral_flag() -> None:
    private = render_reply(Reply.text("only you"))
    public = render_reply(Reply.text("everyone", ephemeral=False))
    assert private[0]["flags"] == EPHEMERAL_FLAG
    assert "flags" not in public[0]


def test_limit_violations_catch_broken_payloads() -> None:
    bad = {
        "content": "c" * 2001,
        "embeds": [{"title": "t" * 257, "fields": [{"name": "", "value": "v" * 1025}]}] * 11,
    }
    problems = " | ".join(limit_violations(bad))
    for needle in ("content", "11 embeds", "title", "name 0", "value 1025", "total"):
        assert needle in problems


def test_render_message_keeps_image_bytes_for_the_upload() -> None:
    [part] = render_message(Message(header="x", image=Image("a.png", b"data")))
    upload = part.file()
    assert upload is not None and upload.filename == "a.png" and upload.fp.read() == b"data"


@pytest.fixture(scope="module")
def library() -> Any:
    from content import load_library

    return load_library()


def test_every_day_renders_within_every_limit(library: Any) -> None:
    from bot.services.daily import compose_day

    assert library.days_total == 133
    for day in range(1, library.days_total + 1):
        messages = compose_day(library.day(day))
        payloads = render_post(messages)
        for payload in payloads:
            problems = limit_violations(payload)
            assert problems == [], f"day {day}: {problems}"
            assert_within_limits(payload)
        # Each question is its own message and arrives whole in one embed description.
        questions = [m for m in messages if m.thread_starter]
        for question in questions:
            parts = render_post([question])
            assert len(parts) == 1, f"day {day} {question.key} split across messages"
            assert parts[0]["embeds"][0]["description"] == question.text
        assert re.match(rf"Day {day} of 133", payloads[0]["embeds"][0]["title"])
        assert len(payloads) >= len(messages)
    assert EMBED_TOTAL_LIMIT == 6000 and FIELD_VALUE_LIMIT == 1024
